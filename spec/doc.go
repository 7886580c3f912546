// Package spec defines BlueGreenApp (bgrender.io/v1alpha1), the one document
// a team writes to describe a blue/green application, and turns YAML into it:
// strict decoding that reports file, line and field path, defaults, and a
// validation pass that collects every problem at once.
//
// The flow is Load (or Decode) → Default → Validate; Load does all three.
// LoadGates does the same for a plain folder's gates file (GatesFile),
// which holds the fields of spec.gates.
//
// Validate runs one check per part of the spec (metadata, colors, ports,
// Service, Ingress, network policy, quota, autoscaling, traffic, gates,
// migrations, ...) in the order listed in validate.go, each part in a file named for
// it, and sorts what they find by line. Warnings lists what is valid but likely not what
// the user meant.
package spec

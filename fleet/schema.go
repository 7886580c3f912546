package fleet

import (
	"encoding/json"
	"reflect"

	"github.com/bgrender/bgrender/spec"
)

var descriptions = map[string]string{
	"metadata.name":                     "The fleet's name, a DNS-1123 label: it names the fleet's commits.",
	"spec":                              "The targets of the release and the waves they move in.",
	"spec.repo":                         "The GitOps repository (an https, ssh, git:// or file:// URL) of every target that names none.",
	"spec.branch":                       "The branch of every target that names none (default: the remote's default branch).",
	"spec.kubeconfig":                   "The kubeconfig file of every target that names none, relative to the fleet file (default: KUBECONFIG, else ~/.kube/config).",
	"spec.targets":                      "The app folders to release, each with the cluster it is applied to.",
	"spec.targets[].name":               "The target's name, a DNS-1123 label, unique in the fleet; waves name it.",
	"spec.targets[].repo":               "The target's GitOps repository (default: spec.repo). Targets of one wave that share a repository move in one commit per step.",
	"spec.targets[].branch":             "The target's branch (default: spec.branch).",
	"spec.targets[].path":               "The app folder in the repository.",
	"spec.targets[].context":            "The kubeconfig context of the target's cluster (default: the current context).",
	"spec.targets[].kubeconfig":         "The target's kubeconfig file, relative to the fleet file (default: spec.kubeconfig).",
	"spec.targets[].namespace":          "The app's namespace (default: the one the folder names, else the context's).",
	"spec.targets[].labels":             "Labels that a wave's selector selects the target by.",
	"spec.targets[].reconcile":          "Ask the target's GitOps agent to apply each commit now: KIND/NAMESPACE/NAME, as --reconcile.",
	"spec.waves":                        "The waves, in order: a wave starts once the one before held everywhere. Every target is in exactly one wave.",
	"spec.waves[].name":                 "The wave's name, a DNS-1123 label.",
	"spec.waves[].targets":              "The targets of the wave, by name.",
	"spec.waves[].selector":             "Or: the targets whose labels match.",
	"spec.waves[].selector.matchLabels": "Labels a target must have, every one.",
	"spec.waves[].maxParallel":          "At most how many of the wave's targets move at once (default: all).",
	"spec.waves[].hold":                 "How long guard watches the wave once it is live before the next wave starts (0s: no hold).",
	"spec.waves[].interval":             "How often guard looks during the hold.",
	"spec.waves[].onBreach":             "What a breach during the hold does: roll back this wave, roll back every wave so far, or halt and leave it to a person. Later waves are untouched.",
}

var constraints = map[string]map[string]any{
	"metadata.name":            {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
	"spec.targets":             {"minItems": 1},
	"spec.targets[].name":      {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
	"spec.targets[].path":      {"minLength": 1},
	"spec.waves":               {"minItems": 1},
	"spec.waves[].name":        {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
	"spec.waves[].targets":     {"minItems": 1},
	"spec.waves[].maxParallel": {"minimum": 0},
	"spec.waves[].hold":        {"pattern": "^(0|" + spec.DurationPattern[1:len(spec.DurationPattern)-1] + ")$", "default": DefaultHold.String()},
	"spec.waves[].interval":    {"pattern": spec.DurationPattern, "default": DefaultInterval.String()},
	"spec.waves[].onBreach":    {"enum": []string{RollbackWave, RollbackAll, Halt}, "default": RollbackWave},
}

// JSONSchema returns a JSON Schema (draft-07) of the fleet file, for
// yaml-language-server as the app spec's.
func JSONSchema() []byte {
	root, defs := spec.ObjectSchema(reflect.TypeFor[Fleet](), descriptions, constraints)
	props := root["properties"].(map[string]any)
	props["apiVersion"] = map[string]any{"const": APIVersion}
	props["kind"] = map[string]any{"const": Kind}
	// A wave names its targets or selects them.
	wave := props["spec"].(map[string]any)["properties"].(map[string]any)["waves"].(map[string]any)["items"].(map[string]any)
	wave["oneOf"] = []any{map[string]any{"required": []string{"targets"}}, map[string]any{"required": []string{"selector"}}}
	out := map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         SchemaID,
		"title":       "Fleet",
		"description": "One app released across many clusters in waves by bgrender release --fleet (" + APIVersion + ").",
	}
	if len(defs) > 0 {
		out["definitions"] = defs
	}
	for k, v := range root {
		out[k] = v
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err) // built from static types; this cannot fail
	}
	return append(raw, '\n')
}

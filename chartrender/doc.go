// Package chartrender renders a Helm chart as `helm template` does, with
// the Helm SDK: no cluster, no release storage. It locates the chart (a
// directory, a packaged .tgz, REPO/NAME from the Helm repositories file,
// or oci://), merges the values in Helm's order (the chart's values.yaml,
// then each --values file, then --set), and returns the manifests followed
// by the hooks, each under its "# Source:" comment, byte for byte what
// `helm template` prints for the same flags.
//
// The Helm SDK's packages take about as long to initialize as the rest of
// bgrender together; bgrender itself never imports this package, so that
// its start-up as a Helm post-renderer stays as it is. The companion
// command bgrender-chart (cmd/bgrender-chart) does, and `bgrender deploy
// --chart` runs it.
package chartrender

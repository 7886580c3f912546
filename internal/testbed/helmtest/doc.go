// Package helmtest runs the real Helm 3 and Helm 4 command-line programs in
// tests, with bgrender as their post-renderer.
//
// The binaries are .tools/helm3/helm (Helm v3.22.0) and .tools/helm4/helm
// (Helm v4.3.1) under the repository root, built from the Go module proxy by
// hack/install-tools.sh (make tools); HELM3_BIN and HELM4_BIN override them.
// When one is missing, Require skips the test under go test -short and fails
// it otherwise; with CI=true it always fails, so CI never silently skips.
//
//	func TestHelm(t *testing.T) {
//		h := helmtest.Require(t, 4)
//		bin := helmtest.BuildBgrender(t)
//		helmtest.InstallPostRendererPlugin(t, h, "bgrender", bin, "helm")
//		out, _, err := h.Template(ctx, chartDir, "--post-renderer", "bgrender")
//		...
//	}
//
// Every Helm value has its own home: HELM_CACHE_HOME, HELM_CONFIG_HOME and
// HELM_DATA_HOME point into a per-test temporary directory and HELM_PLUGINS
// at $HELM_DATA_HOME/plugins (the only place `helm plugin install` of a
// local directory writes to, whatever HELM_PLUGINS says: helm/helm#32646),
// KUBECONFIG names a file that does not exist (so nothing can reach a
// cluster by accident) until WithKubeconfig sets it, and HELM_* variables of
// the test's own environment are not passed on.
//
// # Post-renderers in Helm 3 and Helm 4
//
// Helm 3 runs an executable: --post-renderer takes its path (an absolute one,
// or a name looked up on PATH) and every --post-renderer-args flag adds one
// argument. It gets the rendered manifests (no hooks) on standard input as
// `helm template` would print them, with "# Source:" comments; its standard
// error is part of Helm's error message when it exits non-zero, and empty
// output is accepted (helm template then prints nothing).
//
// Helm 4 runs only plugins: --post-renderer takes the name of an installed
// plugin of type postrenderer/v1. InstallPostRendererPlugin writes a plugin
// directory named after the plugin with this plugin.yaml (exactly what
// PostRendererPluginManifest returns for name "bgrender" and argument
// "helm") and installs it with `helm plugin install DIR`:
//
//	apiVersion: v1
//	type: postrenderer/v1
//	name: bgrender
//	version: 0.1.0
//	runtime: subprocess
//	runtimeConfig:
//	    platformCommand:
//	        - command: ${HELM_PLUGIN_DIR}/postrenderer
//	          args:
//	            - helm
//
// where postrenderer is a symbolic link to the program in the plugin
// directory. The following holds for Helm v4.3.1 (read from its source,
// internal/plugin and pkg/postrenderer, and checked by this package's test):
//
//   - The plugin.yaml is decoded strictly (unknown top-level fields are an
//     error); name must match ^[A-Za-z0-9_-]+$ and version must be strict
//     semver. config may be left out (postrenderer/v1 has no settings).
//   - Installing from a local directory needs no --verify=false: Helm treats
//     it as "development mode", skips signature checks, and links
//     $HELM_DATA_HOME/plugins/<base name of DIR> to DIR (so DIR must outlive the
//     plugin's use; it is a test temporary directory here).
//   - The command line is built as follows: command is split on single
//     spaces (so a path with a space breaks it, which is why the program is
//     reached through ${HELM_PLUGIN_DIR}), each part and each of args goes
//     through os.Expand with Helm's environment ($VAR and ${VAR} are
//     replaced, and there is no escape for a literal "$"), and then every
//     --post-renderer-args value is appended verbatim, one argument per flag
//     (no comma splitting, empty values kept, in command-line order, whether
//     the flag comes before or after --post-renderer).
//   - The plugin's environment is Helm's plus HELM_PLUGIN_NAME and
//     HELM_PLUGIN_DIR; its working directory is Helm's.
//   - Standard input is a single YAML stream of all rendered documents,
//     hooks included, ordered by template path, without "# Source:"
//     comments, and each document carries the annotation
//     postrenderer.helm.sh/postrender-filename with its template's path as
//     a single-quoted string (postrender-filename: 'demo/templates/x.yaml'). Helm removes that annotation from the output and uses
//     it to group documents again; an output document without it is filed as
//     generated-by-postrender-<i>.yaml. The output must parse as Kubernetes
//     YAML (kyaml) or Helm fails.
//   - Helm discards the plugin's standard error, also when it fails and
//     also under --debug (whose log shows stderr=""): a non-zero exit is
//     reported only as `Error: error while running post render on files:
//     failed to invoke post-renderer plugin "NAME": plugin "NAME" exited
//     with error`, followed by a misleading "Use --debug flag to render out
//     invalid YAML". A post-renderer that wants its diagnostics seen must
//     find another way (or a test must run it directly).
//   - An unknown plugin name fails at flag parsing: `invalid argument "NAME"
//     for "--post-renderer" flag: plugin: {Name:NAME Type:postrenderer/v1}
//     not found`.
//   - Output that is empty or only white space is an error: `post-renderer
//     "NAME" produced empty output`.
//
// # Building bgrender
//
// BuildBgrender builds ./cmd/bgrender once per test binary with go build
// (quick when the build cache is warm) and returns the absolute path of the
// result, for Helm 3's --post-renderer and for InstallPostRendererPlugin.
package helmtest

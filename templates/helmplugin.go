package templates

import (
	_ "embed"
	"strings"
	"text/template"
)

//go:embed helm-plugin.yaml.tmpl
var helmPlugin string

// HelmPluginData fills the Helm 4 plugin manifest.
type HelmPluginData struct {
	// Version of the plugin, strict semver.
	Version string
	// Command that Helm runs; Helm expands ${HELM_PLUGIN_DIR} in it and
	// splits it on spaces.
	Command string
}

// HelmPlugin renders the plugin.yaml of the bgrender Helm 4 post-renderer plugin.
func HelmPlugin(d HelmPluginData) (string, error) {
	t, err := template.New("plugin.yaml").Option("missingkey=error").Parse(helmPlugin)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

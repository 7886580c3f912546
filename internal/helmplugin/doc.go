// Package helmplugin installs and writes bgrender's Helm 4 post-renderer
// plugin (a plugin of type postrenderer/v1).
//
// Install finds Helm's plugins folder by asking the helm binary (refusing a
// Helm 3, which has no post-renderer plugins), writes a plugin.yaml there
// and links the running bgrender binary beside it; Manifest renders the
// plugin.yaml alone, for a plugin folder that 'helm plugin install'
// installs. The manifest's template is in package templates.
package helmplugin

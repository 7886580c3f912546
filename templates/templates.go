// Package templates holds the text templates that bgrender fills in, such
// as the default commit message of a GitOps action (commit.tmpl). They are
// embedded in the binary; flags such as --message-template replace them.
package templates

import _ "embed"

// Commit is the default commit message template. Its data is a
// gitops.MessageData: .Action, .App, .Path, .Branch, .From, .To, .Image,
// .Replicas and .Summary. bgrender appends the Bgrender-* trailers after
// it, whatever the template says.
//
//go:embed commit.tmpl
var Commit string

// Package yamlerr locates the errors of YAML that bgrender reads: the line
// of a go.yaml.in/yaml/v3 syntax error, and keys written twice.
//
// yaml.v3 reports scanner errors ("found character that cannot start any
// token") with a 1-based line but parser errors ("did not find expected
// key") with a 0-based one; Parse corrects the latter so that every error
// bgrender prints points at the right line.
//
// yaml.v3 takes a duplicate key silently when it decodes into a yaml.Node,
// as every reader in bgrender does, and so do sigs.k8s.io/yaml and kyaml.
// DuplicateKeys is the one check that every reader of YAML runs (specs,
// plain folders, post-render streams, configuration files), so that a
// duplicate key is bad input (exit 2) naming the file and both lines.
package yamlerr

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse returns the 1-based line of a YAML syntax error (0 if it names
// none) and its message without the "yaml: line N:" prefix.
func Parse(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "did not find expected") {
		line++ // a parser error: yaml.v3 counts its lines from 0
	}
	return line, m[2]
}

package spec

import (
	"encoding/json"
	"reflect"

	yaml "go.yaml.in/yaml/v3"
)

// The strict decoder and the schema generator of BlueGreenApp serve the
// other kinds of bgrender.io/v1alpha1 too (package fleet's Fleet): the
// same located errors and the same JSON Schema rules for every file a
// user writes.

// CheckText rejects input that is not YAML text (binary bytes, control
// characters, tabs in indentation), located by line.
func CheckText(name string, data []byte) error {
	if err := checkText(name, data); err != nil {
		return ErrorList{err}
	}
	return nil
}

// YAMLError locates a syntax error of the YAML parser in file.
func YAMLError(file string, err error) *FieldError { return yamlError(file, err) }

// DecodeStrict decodes the mapping root, read from file, into out (a
// pointer to a struct with json tags) as Decode decodes a BlueGreenApp: a
// duplicate key, an unknown field or a wrong type is an error naming the
// file, the line and the field path. It returns the line of every field
// path it decoded, for the caller's own validation messages.
func DecodeStrict(file string, root *yaml.Node, out any) (map[string]int, ErrorList) {
	d := &decoder{file: file, lines: map[string]int{}}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{d.errorf(root, "", "expected a mapping, got %s", describe(root))}
	}
	if errs := duplicateKeys(file, root); len(errs) > 0 {
		return nil, errs
	}
	value := d.decode(root, reflect.TypeOf(out).Elem(), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, ErrorList{d.errorf(root, "", "internal error: %v", err)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, ErrorList{d.errorf(root, "", "%v", err)}
	}
	return d.lines, nil
}

// ObjectSchema is the JSON Schema (draft-07) of the struct type t, built
// as JSONSchema builds BlueGreenApp's: descriptions and constraints are
// keyed by field path (spec.waves[].hold); Kubernetes types go into the
// returned definitions.
func ObjectSchema(t reflect.Type, descriptions map[string]string, constraints map[string]map[string]any) (root, definitions map[string]any) {
	g := &schemaGen{defs: map[string]any{}, desc: descriptions, cons: constraints}
	return g.object(t, ""), g.defs
}

// DurationPattern is the JSON Schema pattern of a Go duration.
const DurationPattern = durationPattern

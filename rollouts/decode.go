package rollouts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/yamlerr"
	"github.com/bgrender/bgrender/spec"
)

// File is one input file of Import.
type File struct {
	Name string
	Data []byte
}

// document is one YAML document of an input file, with the line of every
// field path in it.
type document struct {
	file       string
	line       int
	apiVersion string
	kind       string
	name       string
	value      map[string]any
	lines      map[string]int
	// written maps a path without list indexes to the first written path
	// it stands for.
	written map[string]string
}

// lineOf returns the line of path, or of its nearest parent in the
// document. A path without list indexes, as encoding/json names a field,
// matches the first item's.
func (d *document) lineOf(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
		if l, ok := d.lines[d.exactPath(p)]; ok {
			return l
		}
	}
	return d.line
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func parent(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

// errorf is a problem located in the document.
func (d *document) errorf(path, format string, args ...any) *spec.FieldError {
	return &spec.FieldError{File: d.file, Line: d.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// readDocuments splits every file into documents; a file that is not
// YAML is an error with its line.
func readDocuments(files []File) ([]*document, spec.ErrorList) {
	var (
		docs []*document
		errs spec.ErrorList
	)
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(f.Data))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				line, msg := yamlerr.Parse(err)
				errs = append(errs, &spec.FieldError{File: f.Name, Line: line, Msg: "invalid YAML: " + msg})
				break
			}
			if len(n.Content) == 0 || n.Content[0].Tag == "!!null" {
				continue
			}
			root := n.Content[0]
			d := &document{file: f.Name, line: root.Line, lines: map[string]int{}, written: map[string]string{}}
			if root.Kind != yaml.MappingNode {
				errs = append(errs, d.errorf("", "expected a Kubernetes object, got a %s", root.Tag))
				continue
			}
			if dups := yamlerr.DuplicateKeys(root); len(dups) > 0 {
				for _, dup := range dups {
					errs = append(errs, &spec.FieldError{File: f.Name, Line: dup.Line, Path: dup.Path, Msg: dup.Msg()})
				}
				continue
			}
			d.index(root, "")
			var v any
			if err := root.Decode(&v); err != nil {
				errs = append(errs, d.errorf("", "%s", strings.TrimPrefix(err.Error(), "yaml: ")))
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, d.errorf("", "expected a mapping with string keys"))
				continue
			}
			d.value = m
			d.apiVersion, _ = m["apiVersion"].(string)
			d.kind, _ = m["kind"].(string)
			if md, ok := m["metadata"].(map[string]any); ok {
				d.name, _ = md["name"].(string)
			}
			docs = append(docs, d)
		}
	}
	return docs, errs
}

// index records the line of every field path under n.
func (d *document) index(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			d.lines[p] = n.Content[i].Line
			if plain := indexRE.ReplaceAllString(p, ""); d.written[plain] == "" {
				d.written[plain] = p
			}
			d.index(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.index(item, p)
		}
	}
	// An alias is not followed: its fields have the anchor's lines, and
	// following it would expand "billion laughs" inputs.
}

// decodeInto decodes the document into out (a pointer to a struct with
// json tags). A value of the wrong type is an error with its line; fields
// that out does not have are returned as unknown, under path prefixes
// where the schema is complete (strict) as errors.
func (d *document) decodeInto(out any, strict []string) (unknown []string, errs spec.ErrorList) {
	raw, err := json.Marshal(d.value)
	if err != nil {
		return nil, spec.ErrorList{d.errorf("", "%v", err)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path := te.Field
			return nil, spec.ErrorList{d.errorf(d.exactPath(path), "expected %s, got %s", te.Type, te.Value)}
		}
		return nil, spec.ErrorList{d.errorf("", "%s", strings.TrimPrefix(err.Error(), "json: "))}
	}
	for _, p := range unknownFields(d.value, reflect.TypeOf(out).Elem(), "") {
		isStrict := false
		for _, s := range strict {
			if strings.HasPrefix(p, s+".") || strings.HasPrefix(p, s+"[") {
				isStrict = true
			}
		}
		if isStrict {
			errs = append(errs, d.errorf(p, "unknown field"))
			continue
		}
		unknown = append(unknown, p)
	}
	return unknown, errs
}

// exactPath finds the written path (with list indexes) of a json field
// path (without them).
func (d *document) exactPath(field string) string {
	if p, ok := d.written[field]; ok {
		return p
	}
	return field
}

// unknownFields lists the paths in v that type t has no field for.
func unknownFields(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			if t == rawMessageType {
				return nil
			}
			fields := jsonFields(t)
			if len(fields) == 0 {
				return nil // a type with its own encoding (a quantity, an IntOrString)
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := join(path, k)
				ft, ok := fields[k]
				if !ok {
					out = append(out, p)
					continue
				}
				out = append(out, unknownFields(v[k], ft, p)...)
			}
		case reflect.Map:
			for k, item := range v {
				out = append(out, unknownFields(item, t.Elem(), join(path, k))...)
			}
			sort.Strings(out)
		}
	case []any:
		if t.Kind() == reflect.Slice {
			for i, item := range v {
				out = append(out, unknownFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the json names of a struct's fields (inline ones
// included) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" {
			continue
		}
		if (f.Anonymous && name == "") || strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

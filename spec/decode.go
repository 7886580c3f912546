package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

// Load decodes every BlueGreenApp document in data, applies defaults and
// validates the result. name is used in error messages (use "-" or
// "<stdin>" for standard input). All problems are reported together as an
// ErrorList.
func Load(name string, data []byte) ([]*BlueGreenApp, error) {
	apps, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	for _, app := range apps {
		Default(app)
		errs = append(errs, Validate(app)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return apps, nil
}

// Decode strictly decodes every document in data: an unknown field, a wrong
// type, a duplicate key, a tab in indentation or a malformed document is an
// error naming the file, the line and the field path.
func Decode(name string, data []byte) ([]*BlueGreenApp, error) {
	if err := checkText(name, data); err != nil {
		return nil, ErrorList{err}
	}
	var (
		apps []*BlueGreenApp
		errs ErrorList
	)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for index := 0; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlError(name, err))
			break // the parser cannot resynchronise after a syntax error
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document between separators
		}
		app, docErrs := decodeDocument(name, index, doc.Content[0])
		errs = append(errs, docErrs...)
		if app != nil {
			apps = append(apps, app)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(apps) == 0 {
		return nil, ErrorList{{File: name, Msg: "no BlueGreenApp document found (the input is empty)"}}
	}
	return apps, nil
}

// checkText rejects input that is not YAML text before the parser sees it,
// so that binary garbage and tab indentation get a clear message.
func checkText(name string, data []byte) *FieldError {
	line := 1
	atLineStart := true
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &FieldError{File: name, Line: line, Msg: fmt.Sprintf("not a UTF-8 text file (invalid byte 0x%02x at offset %d)", data[i], i)}
		case r == 0 || (r < 0x20 && r != '\n' && r != '\r' && r != '\t'):
			return &FieldError{File: name, Line: line, Msg: fmt.Sprintf("not a YAML text file (control character 0x%02x at offset %d)", r, i)}
		case r == '\n':
			line++
			atLineStart = true
		case r == '\t' && atLineStart:
			return &FieldError{File: name, Line: line, Msg: "tab character in indentation: YAML indents with spaces only"}
		case r != ' ' && r != '-':
			atLineStart = false
		}
		i += size
	}
	return nil
}

func yamlError(name string, err error) *FieldError {
	line, msg := yamlerr.Parse(err)
	return &FieldError{File: name, Line: line, Msg: "invalid YAML: " + msg}
}

func decodeDocument(name string, index int, root *yaml.Node) (*BlueGreenApp, ErrorList) {
	d := &decoder{file: name, lines: map[string]int{}}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{d.errorf(root, "", "expected a BlueGreenApp mapping, got %s", describe(root))}
	}
	if errs := duplicateKeys(name, root); len(errs) > 0 {
		return nil, errs
	}
	// Check the type of the document before its fields, so that another
	// Kubernetes object gets one clear message instead of a list of unknown fields.
	apiVersion, kind := lookupScalar(root, "apiVersion"), lookupScalar(root, "kind")
	if kind == nil {
		return nil, ErrorList{d.errorf(root, "kind", "missing; expected %s", Kind)}
	}
	if kind.Value != Kind {
		return nil, ErrorList{d.errorf(kind, "kind", "expected %s, got %q", Kind, kind.Value)}
	}
	if apiVersion == nil {
		return nil, ErrorList{d.errorf(root, "apiVersion", "missing; expected %s", APIVersion)}
	}
	if apiVersion.Value != APIVersion {
		return nil, ErrorList{d.errorf(apiVersion, "apiVersion", "expected %s, got %q", APIVersion, apiVersion.Value)}
	}

	value := d.decode(root, reflect.TypeFor[BlueGreenApp](), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, ErrorList{d.errorf(root, "", "internal error: %v", err)}
	}
	app := &BlueGreenApp{}
	if err := json.Unmarshal(raw, app); err != nil {
		return nil, ErrorList{d.errorf(root, "", "%v", err)}
	}
	app.Source = Source{File: name, Index: index, Line: root.Line, lines: d.lines}
	return app, nil
}

// duplicateKeys reports the keys written twice in one mapping below root,
// with the check that every reader of YAML in bgrender runs. A document
// with one is refused before its fields are read: which of the two values
// counts is the question, not what is wrong with either.
func duplicateKeys(file string, root *yaml.Node) ErrorList {
	var errs ErrorList
	for _, dup := range yamlerr.DuplicateKeys(root) {
		errs = append(errs, &FieldError{File: file, Line: dup.Line, Path: dup.Path, Msg: dup.Msg()})
	}
	return errs
}

func lookupScalar(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1]
		}
	}
	return nil
}

// decoder walks a YAML node tree against a Go type, checking what
// encoding/json would silently accept or drop, and builds a JSON-ready value.
type decoder struct {
	file  string
	lines map[string]int
	errs  ErrorList
	// aliases counts alias expansions against maxAliases, and expanding
	// holds the anchors being expanded, to stop "billion laughs" inputs and
	// aliases that contain themselves.
	aliases   int
	expanding map[*yaml.Node]bool
}

// maxAliases bounds alias expansions per document.
const maxAliases = 1000

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) *FieldError {
	e := &FieldError{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)}
	return e
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) any {
	d.errs = append(d.errs, d.errorf(n, path, format, args...))
	return nil
}

var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
)

func (d *decoder) decode(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		d.aliases++
		switch {
		case d.aliases > maxAliases:
			return d.fail(n, path, "more than %d alias expansions", maxAliases)
		case d.expanding[target]:
			return d.fail(n, path, "alias *%s refers to a node that contains it", n.Value)
		}
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		return d.decode(target, t, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch {
	case t == quantityType:
		return d.quantity(n, path)
	case t == intOrStringType:
		return d.intOrString(n, path)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.decode(n, t.Elem(), path)
	case reflect.Struct:
		return d.object(n, t, path)
	case reflect.Map:
		return d.mapping(n, t, path)
	case reflect.Slice:
		return d.sequence(n, t, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return d.fail(n, path, "expected string, got %s", describe(n))
		}
		return n.Value
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return d.fail(n, path, "expected boolean (true or false), got %s", describe(n))
		}
		var b bool
		_ = n.Decode(&b)
		return b
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.fail(n, path, "expected integer, got %s", describe(n))
		}
		var v int64
		if err := n.Decode(&v); err != nil || reflect.Zero(t).OverflowInt(v) {
			return d.fail(n, path, "integer %s out of range for %s", n.Value, t.Kind())
		}
		return v
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.fail(n, path, "expected non-negative integer, got %s", describe(n))
		}
		var v uint64
		if err := n.Decode(&v); err != nil || reflect.Zero(t).OverflowUint(v) {
			return d.fail(n, path, "integer %s out of range", n.Value)
		}
		return v
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
			return d.fail(n, path, "expected number, got %s", describe(n))
		}
		var v float64
		_ = n.Decode(&v)
		return v
	}
	return d.fail(n, path, "unsupported field type %s", t)
}

func (d *decoder) quantity(n *yaml.Node, path string) any {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		return d.fail(n, path, "expected a quantity such as 250m or 1Gi, got %s", describe(n))
	}
	if _, err := resource.ParseQuantity(n.Value); err != nil {
		return d.fail(n, path, "invalid quantity %q: expected a number with an optional suffix such as 250m, 1.5, 512Mi or 2G", n.Value)
	}
	return n.Value
}

func (d *decoder) intOrString(n *yaml.Node, path string) any {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str":
			return n.Value
		case "!!int":
			v, err := strconv.ParseInt(n.Value, 0, 32)
			if err != nil {
				return d.fail(n, path, "integer %s out of range", n.Value)
			}
			return v
		}
	}
	return d.fail(n, path, "expected integer or string, got %s", describe(n))
}

func (d *decoder) object(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind != yaml.MappingNode {
		return d.fail(n, path, "expected a mapping, got %s", describe(n))
	}
	fields := jsonFields(t)
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.fail(k, path, "unsupported key %s", describe(k))
			continue
		}
		p := fieldPath(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			d.fail(k, p, "unknown field%s", suggest(k.Value, fields))
			continue
		}
		d.lines[p] = k.Line
		if val := d.decode(v, f, p); val != nil {
			out[k.Value] = val
		}
	}
	return out
}

func (d *decoder) mapping(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind != yaml.MappingNode {
		return d.fail(n, path, "expected a mapping, got %s", describe(n))
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.fail(k, path, "unsupported key %s", describe(k))
			continue
		}
		p := keyPath(path, k.Value)
		d.lines[p] = k.Line
		val := d.decode(v, t.Elem(), p)
		if val == nil && t.Elem().Kind() != reflect.Pointer && v.Tag == "!!null" {
			d.fail(v, p, "expected a value, got null")
			continue
		}
		out[k.Value] = val
	}
	return out
}

func (d *decoder) sequence(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind != yaml.SequenceNode {
		return d.fail(n, path, "expected a list, got %s", describe(n))
	}
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.lines[p] = item.Line
		out = append(out, d.decode(item, t.Elem(), p))
	}
	return out
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	Name     string
	Type     reflect.Type
	Optional bool // omitempty or omitzero
}

// jsonFieldList lists the JSON fields of a struct in declaration order,
// following inlined and embedded structs as encoding/json does.
func jsonFieldList(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFieldList(ft)...)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		out = append(out, jsonField{Name: name, Type: f.Type, Optional: optional})
	}
	return out
}

// jsonFields maps the JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for _, f := range jsonFieldList(t) {
		fields[f.Name] = f.Type
	}
	return fields
}

// suggest offers the closest known field name for a misspelt one.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if best := Closest(key, names); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(names) <= 12 {
		return " (known fields: " + strings.Join(names, ", ") + ")"
	}
	return ""
}

// Closest returns the name in names nearest to word (fewer than three
// edits, case aside), or "" if none is near; ties go to the first.
func Closest(word string, names []string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if dist := editDistance(strings.ToLower(word), strings.ToLower(name)); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Unmarshal strictly decodes one YAML document into out, a pointer to a
// struct with json tags, with the checks and located errors of Decode. It
// is for bgrender's other configuration files.
func Unmarshal(name string, data []byte, out any) error {
	if err := checkText(name, data); err != nil {
		return ErrorList{err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return ErrorList{yamlError(name, err)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return ErrorList{{File: name, Msg: "the file is empty"}}
	}
	if errs := duplicateKeys(name, doc.Content[0]); len(errs) > 0 {
		return errs
	}
	d := &decoder{file: name, lines: map[string]int{}}
	value := d.decode(doc.Content[0], reflect.TypeOf(out).Elem(), "")
	if len(d.errs) > 0 {
		return d.errs
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return ErrorList{d.errorf(doc.Content[0], "", "internal error: %v", err)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return ErrorList{d.errorf(doc.Content[0], "", "%v", err)}
	}
	return nil
}

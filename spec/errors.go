package spec

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a spec, located by file, line and field path.
type FieldError struct {
	File string
	Line int    // 0 when unknown
	Path string // field path such as spec.ports[0].containerPort; may be empty
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList holds every problem found in one run, in file and line order.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	shown := l
	if len(shown) > MaxErrorsShown {
		shown = shown[:MaxErrorsShown]
	}
	msgs := make([]string, len(shown), len(shown)+1)
	for i, e := range shown {
		msgs[i] = e.Error()
	}
	if n := len(l) - len(shown); n > 0 {
		msgs = append(msgs, fmt.Sprintf("... and %d more problems", n))
	}
	return strings.Join(msgs, "\n")
}

// MaxErrorsShown is how many problems an ErrorList prints; the rest are
// counted.
const MaxErrorsShown = 100

// Err returns nil for an empty list, so that a nil error means no problem.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// parentPath strips the last element of a field path:
// spec.ports[0].name → spec.ports[0] → spec.ports → spec → "".
func parentPath(p string) string {
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

// fieldPath joins a parent path and a field name.
func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath addresses a list item.
func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// keyPath addresses a map entry; keys that are not plain identifiers are bracketed.
func keyPath(parent, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return fieldPath(parent, key)
	}
	return fmt.Sprintf("%s[%q]", parent, key)
}

package yamledit

import (
	"errors"
	"strings"
	"testing"
)

const service = `# The live Service: its selector picks the color.
apiVersion: v1
kind: Service
metadata:
  name: my-application   # keep this comment

  labels: {app: my-application}
spec:
  type: LoadBalancer
  selector:
    app: my-application
    version: blue        # flipped by bgrender
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "my-application-green"
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: application
          image: 'myapp:v1.2.3'
`

// diffLines returns the lines of b that differ from a, for files of the
// same line count.
func changedLines(t *testing.T, a, b string) []string {
	t.Helper()
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		t.Fatalf("line count changed from %d to %d:\n%s", len(al), len(bl), b)
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

func TestSetChangesOnlyTheValue(t *testing.T) {
	tests := map[string]struct {
		doc   int
		path  []string
		value string
		want  []string
	}{
		"plain, comment kept": {0, []string{"spec", "selector", "version"}, "green", []string{"    version: green        # flipped by bgrender"}},
		"single quotes kept":  {1, []string{"spec", "template", "spec", "containers"}, "", nil},
		"double quotes kept":  {1, []string{"metadata", "name"}, "x-green", []string{`  name: "x-green"`}},
		"unchanged":           {0, []string{"spec", "type"}, "LoadBalancer", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := Parse([]byte(service))
			if err != nil {
				t.Fatal(err)
			}
			changed, err := f.SetString(tc.doc, tc.path, tc.value)
			if tc.want == nil && tc.value == "" {
				if err == nil {
					t.Fatal("setting a sequence as a scalar succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := changedLines(t, service, string(f.Bytes()))
			if changed != (len(tc.want) > 0) || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("changed=%v lines=%q, want %q", changed, got, tc.want)
			}
		})
	}
}

func TestSetImageInSequence(t *testing.T) {
	f, err := Parse([]byte(service))
	if err != nil {
		t.Fatal(err)
	}
	c := Lookup(f.Docs()[1], "spec", "template", "spec", "containers").Content[0]
	if Scalar(c, "image") != "myapp:v1.2.3" {
		t.Fatalf("image = %q", Scalar(c, "image"))
	}
	if _, err := f.SetNode(c, []string{"image"}, "myapp:v2"); err != nil {
		t.Fatal(err)
	}
	got := changedLines(t, service, string(f.Bytes()))
	if len(got) != 1 || got[0] != "          image: 'myapp:v2'" {
		t.Fatalf("changed %q", got)
	}
}

func TestInsertMissingKeys(t *testing.T) {
	f, err := Parse([]byte(service))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetString(0, []string{"metadata", "annotations", "bgrender.io/active-color"}, "green"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetString(0, []string{"metadata", "annotations", "bgrender.io/previous-color"}, "blue"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetInt(1, []string{"spec", "replicas"}, 0); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(service, "metadata:\n  name: my-application", "metadata:\n  annotations:\n    bgrender.io/previous-color: blue\n    bgrender.io/active-color: green\n  name: my-application", 1)
	want = strings.Replace(want, "replicas: 3", "replicas: 0", 1)
	if string(f.Bytes()) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", f.Bytes(), want)
	}
}

// TestInsertKeepsLineEndingsAndIndentation: keys added to a CRLF file
// end with CRLF, and nest by the file's own indentation step.
func TestInsertKeepsLineEndingsAndIndentation(t *testing.T) {
	in := "kind: Service\r\nmetadata:\r\n    name: web\r\n    labels:\r\n        app: web\r\nspec:\r\n    selector:\r\n        version: blue\r\n"
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetString(0, []string{"metadata", "annotations", "bgrender.io/active-color"}, "green"); err != nil {
		t.Fatal(err)
	}
	want := "kind: Service\r\nmetadata:\r\n    annotations:\r\n        bgrender.io/active-color: green\r\n    name: web\r\n    labels:\r\n        app: web\r\nspec:\r\n    selector:\r\n        version: blue\r\n"
	if got := string(f.Bytes()); got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
	flow, _ := Parse([]byte("metadata: {name: web}\n"))
	if _, err := flow.SetString(0, []string{"metadata", "annotations", "a"}, "b"); !errors.Is(err, ErrCannotInsert) {
		t.Fatalf("flow-style mapping: %v", err)
	}
}

// TestDelete removes one line and nothing else; entries it cannot remove
// by a line are refused.
func TestDelete(t *testing.T) {
	in := "spec:\n  traffic:\n    weight: 100 # share\n    canaryColor: green # for one commit\n    nginx: {}\n  active: green\n"
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := f.Delete(0, []string{"spec", "traffic", "canaryColor"})
	if err != nil || !ok {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	if got, want := string(f.Bytes()), "spec:\n  traffic:\n    weight: 100 # share\n    nginx: {}\n  active: green\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if ok, err := f.Delete(0, []string{"spec", "traffic", "canaryColor"}); ok || err != nil {
		t.Errorf("a missing key: %v %v", ok, err)
	}
	// The last annotation takes metadata.annotations with it.
	f, err = Parse([]byte("metadata:\n  annotations:\n    x: \"2\" # why\n  name: web # the app\nspec: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Delete(0, []string{"metadata", "annotations", "x"}); !ok || err != nil {
		t.Fatalf("the last annotation: %v %v", ok, err)
	}
	if got, want := string(f.Bytes()), "metadata:\n  name: web # the app\nspec: {}\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, doc := range []string{"a: {b: 1, c: 2}\n", "a:\n  b: 1\n", "a:\n  b:\n    x: 1\n  c: 2\n", "a: {b: {x: 1}, c: 2}\n"} {
		f, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Delete(0, []string{"a", "b"}); !errors.Is(err, ErrCannotInsert) || string(f.Bytes()) != doc {
			t.Errorf("%q: %v, %q", doc, err, f.Bytes())
		}
	}
}

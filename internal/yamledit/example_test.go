package yamledit_test

import (
	"fmt"

	"github.com/bgrender/bgrender/internal/yamledit"
)

func ExampleFile_SetString() {
	f, err := yamledit.Parse([]byte(`kind: Service
metadata:
  name: web

spec:
  selector:
    app: web
    version: blue   # flipped by bgrender
`))
	if err != nil {
		panic(err)
	}
	f.SetString(0, []string{"spec", "selector", "version"}, "green")
	f.SetString(0, []string{"metadata", "annotations", "bgrender.io/active-color"}, "green")
	fmt.Print(string(f.Bytes()))
	// Output:
	// kind: Service
	// metadata:
	//   annotations:
	//     bgrender.io/active-color: green
	//   name: web
	//
	// spec:
	//   selector:
	//     app: web
	//     version: green   # flipped by bgrender
}

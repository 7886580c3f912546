package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds a spec file: two thousand apps fit in it, and
// decoding, validating and rendering hold up to ~300 times the input.
const MaxFileSize = 2 << 20

// ReadFile reads a file of at most MaxFileSize bytes.
func ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLimited(f)
}

// ReadLimited reads at most MaxFileSize bytes, and fails on more.
func ReadLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("larger than %d MiB; split it into several files", MaxFileSize>>20)
	}
	return data, err
}

// LoadFiles reads, decodes, defaults and validates every file ("-" is
// stdin, read once), and reports the problems of all files together, as
// an ErrorList when they are the specs' own. Two specs of one app are an
// error. Every error is the input's (exit 2).
func LoadFiles(files []string, stdin io.Reader) ([]*BlueGreenApp, error) {
	if len(files) == 0 {
		return nil, errors.New("no input: name one or more spec files, or - for standard input")
	}
	var (
		apps []*BlueGreenApp
		errs ErrorList
	)
	readStdin := false
	for _, file := range files {
		var (
			data []byte
			err  error
			name = file
		)
		if file == "-" {
			if readStdin {
				return nil, errors.New("standard input (-) can be read only once")
			}
			readStdin = true
			name = "<stdin>"
			data, err = ReadLimited(stdin)
		} else {
			data, err = ReadFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, UnwrapPathError(err))
		}
		loaded, err := Load(name, data)
		if list, ok := err.(ErrorList); ok {
			errs = append(errs, list...)
			continue
		}
		apps = append(apps, loaded...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := checkUnique(apps); err != nil {
		return nil, err
	}
	return apps, nil
}

// checkUnique rejects two specs for the same app, which would render the
// same objects twice.
func checkUnique(apps []*BlueGreenApp) error {
	seen := map[string]*BlueGreenApp{}
	var errs ErrorList
	for _, app := range apps {
		key := app.Metadata.Namespace + "/" + app.Metadata.Name
		if first, dup := seen[key]; dup {
			errs = append(errs, &FieldError{
				File: app.Source.File, Line: app.Source.LineOf("metadata.name"), Path: "metadata.name",
				Msg: fmt.Sprintf("app %q is also defined in %s:%d", app.Metadata.Name, first.Source.File, first.Source.LineOf("metadata.name")),
			})
			continue
		}
		seen[key] = app
	}
	return errs.Err()
}

// UnwrapPathError drops the operation and path that os adds, for a caller
// that already names the file.
func UnwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Package reportschema checks mailseal's JSON output against its published
// schema, docs/report.schema.json, for the tests of the packages that
// make that output (core's report, the command's sign and encrypt
// summaries): real outputs must validate, and every JSON field of their
// Go types must be documented there (and nothing else).
package reportschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Path is the schema file's path in the source tree.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "report.schema.json")
}

// Compile compiles the schema's root (def "") or one of its $defs.
func Compile(def string) (*jsonschema.Schema, error) {
	loc := Path()
	if def != "" {
		loc += "#/$defs/" + def
	}
	return jsonschema.NewCompiler().Compile(loc)
}

// ValidateLines validates every non-empty line of data, each one JSON
// value, against the schema's root or def; data with no line is an error.
func ValidateLines(def string, data []byte) error {
	sch, err := Compile(def)
	if err != nil {
		return err
	}
	n := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			return fmt.Errorf("line %d: %v: %s", i+1, err, line)
		}
		if err := sch.Validate(v); err != nil {
			return fmt.Errorf("line %d: %v\n%s", i+1, err, line)
		}
	}
	if n == 0 {
		return fmt.Errorf("no JSON to validate")
	}
	return nil
}

// Fields compares the JSON fields of t (a struct type; embedded structs
// count as their fields) with the properties the schema's def documents:
// undocumented are t's fields the schema lacks, unknown the schema's
// properties t does not have.
func Fields(def string, t reflect.Type) (undocumented, unknown []string, err error) {
	data, err := os.ReadFile(Path())
	if err != nil {
		return nil, nil, err
	}
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		return nil, nil, err
	}
	d, ok := schema.Defs[def]
	if !ok {
		return nil, nil, fmt.Errorf("the schema has no $defs/%s", def)
	}
	have := map[string]bool{}
	for _, name := range jsonFields(t) {
		have[name] = true
		if _, ok := d.Properties[name]; !ok {
			undocumented = append(undocumented, name)
		}
	}
	for name := range d.Properties {
		if !have[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unknown)
	return undocumented, unknown, nil
}

// jsonFields are the names encoding/json gives the exported fields of t.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

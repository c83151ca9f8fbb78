// Package openapi holds the published API contract: the OpenAPI 3.1
// document of the supplier and manufacturer APIs, comfort bounds, dashboard
// sessions, the webhook endpoint and the webhooks NOX sends. The server
// serves it at /openapi.json and renders it as the API reference page; the
// handlers tests validate every API response against it.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var source []byte

// YAML returns the document as written.
func YAML() []byte { return source }

var compiled = sync.OnceValues(func() ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(source, &root); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &root); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return out.Bytes(), nil
})

// JSON returns the document as JSON, keys in the order written. It is
// converted once per process.
func JSON() []byte {
	b, err := compiled()
	if err != nil {
		// The document is embedded; the package test converts it.
		panic(err)
	}
	return b
}

// writeJSON writes a YAML node as JSON, keeping the order of mapping keys
// and resolving aliases.
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(b, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if n.Tag == "!!str" {
			v = n.Value
		}
		out, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b.Write(out)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

// tree returns the document as generic JSON values.
func tree() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(JSON(), &m); err != nil {
		panic(err)
	}
	return m
}

// ErrorCodes returns every error code the document lists
// (components.schemas.ErrorCode).
func ErrorCodes() []string {
	var out []string
	for _, c := range dig(tree(), "components", "schemas", "ErrorCode", "enum").([]any) {
		out = append(out, c.(string))
	}
	return out
}

// EventTypes returns every webhook event type of the webhooks section.
func EventTypes() []string {
	var out []string
	for k := range dig(tree(), "webhooks").(map[string]any) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// Reference is the document arranged for the API reference page.
type Reference struct {
	Title, Version, Description string
	Groups                      []Group
	Webhooks                    []Operation
	ErrorCodes                  []string
	SignatureHeaders            []Param
}

// Group is the operations of one tag, in the document's order.
type Group struct {
	Name, Description, Anchor string
	Operations                []Operation
}

// Operation is one path and method, or one webhook.
type Operation struct {
	Method, Path, ID, Summary, Description string
	Params                                 []Param
	Body                                   []Field
	Responses                              []Response
}

// Param is a path, query or header parameter.
type Param struct {
	Name, In, Type, Description string
	Required                    bool
}

// Field is a top-level property of a request body.
type Field struct {
	Name, Type, Description string
	Required                bool
}

// Response is one status code of an operation.
type Response struct {
	Status, Description string
}

var reference = sync.OnceValue(buildReference)

// Ref returns the reference page's view of the document, built once.
func Ref() *Reference { return reference() }

func buildReference() *Reference {
	doc := tree()
	// Operations come in the document's path order, which JSON maps lose:
	// read the order from the YAML.
	var order struct {
		Paths yaml.Node `yaml:"paths"`
		Hooks yaml.Node `yaml:"webhooks"`
	}
	_ = yaml.Unmarshal(source, &order)
	r := &Reference{
		Title:       dig(doc, "info", "title").(string),
		Version:     dig(doc, "info", "version").(string),
		Description: dig(doc, "info", "description").(string),
		ErrorCodes:  ErrorCodes(),
	}
	groups := map[string]*Group{}
	for _, t := range dig(doc, "tags").([]any) {
		tm := t.(map[string]any)
		name := tm["name"].(string)
		r.Groups = append(r.Groups, Group{Name: name, Description: str(tm["description"]), Anchor: anchor(name)})
	}
	for i := range r.Groups {
		groups[r.Groups[i].Name] = &r.Groups[i]
	}
	methods := []string{"get", "put", "post", "delete"}
	for _, path := range keysOf(&order.Paths) {
		item := dig(doc, "paths", path).(map[string]any)
		shared, _ := item["parameters"].([]any)
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			o := operation(doc, strings.ToUpper(m), path, op, shared)
			tags, _ := op["tags"].([]any)
			if len(tags) > 0 {
				if g := groups[tags[0].(string)]; g != nil {
					g.Operations = append(g.Operations, o)
				}
			}
		}
	}
	for _, name := range keysOf(&order.Hooks) {
		op := dig(doc, "webhooks", name, "post").(map[string]any)
		o := operation(doc, "POST", name, op, nil)
		if r.SignatureHeaders == nil {
			r.SignatureHeaders = o.Params
		}
		o.Params = nil
		r.Webhooks = append(r.Webhooks, o)
	}
	return r
}

func operation(doc map[string]any, method, path string, op map[string]any, shared []any) Operation {
	o := Operation{Method: method, Path: path, ID: str(op["operationId"]), Summary: str(op["summary"]),
		Description: str(op["description"])}
	params, _ := op["parameters"].([]any)
	for _, p := range append(slices.Clone(shared), params...) {
		pm := resolve(doc, p)
		o.Params = append(o.Params, Param{Name: str(pm["name"]), In: str(pm["in"]), Required: pm["required"] == true,
			Type: typeOf(doc, pm["schema"]), Description: str(pm["description"])})
	}
	if body := resolve(doc, op["requestBody"]); body != nil {
		o.Body = fields(doc, resolve(doc, dig(body, "content", "application/json", "schema")), "")
	}
	responses, _ := op["responses"].(map[string]any)
	for _, code := range sortedKeys(responses) {
		rm := resolve(doc, responses[code])
		o.Responses = append(o.Responses, Response{Status: code, Description: str(rm["description"])})
	}
	return o
}

// fields lists a body schema's properties (across allOf parts), required
// ones first; an object property "data" is listed with its own fields.
func fields(doc, schema map[string]any, prefix string) []Field {
	var out []Field
	parts := []map[string]any{schema}
	if all, ok := schema["allOf"].([]any); ok {
		for _, p := range all {
			parts = append(parts, resolve(doc, p))
		}
	}
	for _, part := range parts {
		required := map[string]bool{}
		if req, ok := part["required"].([]any); ok {
			for _, r := range req {
				required[r.(string)] = true
			}
		}
		props, _ := part["properties"].(map[string]any)
		var own []Field
		for _, name := range sortedKeys(props) {
			pm := resolve(doc, props[name])
			if _, nested := pm["properties"]; nested && name == "data" {
				out = append(out, fields(doc, pm, prefix+name+".")...)
				continue
			}
			if slices.ContainsFunc(out, func(f Field) bool { return f.Name == prefix+name }) {
				continue
			}
			own = append(own, Field{Name: prefix + name, Type: typeOf(doc, pm), Required: required[name],
				Description: str(pm["description"])})
		}
		slices.SortStableFunc(own, func(a, b Field) int {
			switch {
			case a.Required == b.Required:
				return 0
			case a.Required:
				return -1
			}
			return 1
		})
		out = append(out, own...)
	}
	return out
}

// resolve follows a local $ref ("#/components/...").
func resolve(doc map[string]any, v any) map[string]any {
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		keys := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		m, _ = dig(doc, keys...).(map[string]any)
	}
	return m
}

func typeOf(doc map[string]any, v any) string {
	m := resolve(doc, v)
	if m == nil {
		return ""
	}
	if e, ok := m["enum"].([]any); ok {
		var vs []string
		for _, x := range e {
			vs = append(vs, fmt.Sprint(x))
		}
		return "one of " + strings.Join(vs, ", ")
	}
	switch t := m["type"].(type) {
	case string:
		if t == "array" {
			return "array of " + typeOf(doc, m["items"])
		}
		return t
	case []any:
		var vs []string
		for _, x := range t {
			vs = append(vs, fmt.Sprint(x))
		}
		return strings.Join(vs, " or ")
	}
	return "any"
}

func str(v any) string { s, _ := v.(string); return strings.TrimSpace(s) }

func anchor(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) }

func keysOf(n *yaml.Node) []string {
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		// Status codes in numeric order, 2XX-style ranges by their digit.
		x, errA := strconv.Atoi(strings.ReplaceAll(a, "X", "0"))
		y, errB := strconv.Atoi(strings.ReplaceAll(b, "X", "0"))
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a, b)
	})
	return out
}

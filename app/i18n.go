package app

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Translator holds one message catalog per supported language. Every
// language must define exactly the keys English defines (NewTranslator
// refuses a catalog with missing or extra keys).
type Translator struct {
	catalogs map[string]map[string]string
}

// NewTranslator loads every "{area}.{lang}.json" file of fsys and merges
// the areas of each language in Languages; a key defined twice is an error.
func NewTranslator(fsys fs.FS) (*Translator, error) {
	t := &Translator{catalogs: map[string]map[string]string{}}
	for _, lang := range Languages {
		files, err := fs.Glob(fsys, "*."+lang+".json")
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("i18n: no catalog for %s", lang)
		}
		cat := map[string]string{}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", f, err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", f, err)
			}
			for k, v := range part {
				if _, dup := cat[k]; dup {
					return nil, fmt.Errorf("i18n: %s: key %q is defined twice", f, k)
				}
				cat[k] = v
			}
		}
		t.catalogs[lang] = cat
	}
	var problems []string
	en := t.catalogs["en"]
	for _, lang := range Languages[1:] {
		for k := range en {
			if _, ok := t.catalogs[lang][k]; !ok {
				problems = append(problems, lang+" lacks "+k)
			}
		}
		for k := range t.catalogs[lang] {
			if _, ok := en[k]; !ok {
				problems = append(problems, lang+" has unknown "+k)
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("i18n: incomplete catalogs: %s", strings.Join(problems, ", "))
	}
	return t, nil
}

// T returns the message for key in lang (English when lang is unknown),
// formatted with args; a missing key renders as the key itself.
func (t *Translator) T(lang, key string, args ...any) string {
	cat, ok := t.catalogs[lang]
	if !ok {
		cat = t.catalogs["en"]
	}
	msg, ok := cat[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		// A message may use fewer of the arguments than a caller passes
		// (one text of a family leaves the name out): pass only those it
		// uses, so fmt does not append "%!(EXTRA ...)".
		return fmt.Sprintf(msg, args[:min(argsUsed(msg), len(args))]...)
	}
	return msg
}

// argsUsed returns how many leading arguments msg's verbs use: the number
// of verbs, or the highest explicit index ("%[2]d") when that is larger.
func argsUsed(msg string) int {
	n, highest := 0, 0
	for i := 0; i < len(msg); i++ {
		if msg[i] != '%' {
			continue
		}
		i++
		switch {
		case i >= len(msg) || msg[i] == '%':
		case msg[i] == '[':
			if j := strings.IndexByte(msg[i:], ']'); j > 0 {
				if k, err := strconv.Atoi(msg[i+1 : i+j]); err == nil {
					highest = max(highest, k)
				}
			}
		default:
			n++
		}
	}
	return max(n, highest)
}

// Keys returns the English keys, sorted.
func (t *Translator) Keys() []string {
	var out []string
	for k := range t.catalogs["en"] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Translator holds one message catalog per supported language. Every
// language must define exactly the keys English defines (NewTranslator
// refuses a catalog with missing or extra keys).
//
// A catalog maps a key to a text, or, for a text with a number in it, to
// its CLDR plural forms: {"one": "%d minute", "other": "%d minutes"} (the
// categories zero, one, two, few, many and other; other is required). The
// form is chosen by the language's CLDR cardinal rule (golang.org/x/text).
type Translator struct {
	catalogs map[string]map[string]string
	// plurals holds the counted texts: language → key → form → text.
	plurals map[string]map[string]map[plural.Form]string
	tags    map[string]language.Tag
}

// pluralForms are the CLDR category names a counted text may use.
var pluralForms = map[string]plural.Form{
	"zero": plural.Zero, "one": plural.One, "two": plural.Two,
	"few": plural.Few, "many": plural.Many, "other": plural.Other,
}

// NewTranslator loads every "{area}.{lang}.json" file of fsys and merges
// the areas of each language in Languages; a key defined twice is an error.
func NewTranslator(fsys fs.FS) (*Translator, error) {
	t := &Translator{catalogs: map[string]map[string]string{},
		plurals: map[string]map[string]map[plural.Form]string{}, tags: map[string]language.Tag{}}
	for _, lang := range Languages {
		files, err := fs.Glob(fsys, "*."+lang+".json")
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("i18n: no catalog for %s", lang)
		}
		cat, counted := map[string]string{}, map[string]map[plural.Form]string{}
		for _, f := range files {
			if err := readCatalog(fsys, f, cat, counted); err != nil {
				return nil, err
			}
		}
		t.catalogs[lang], t.plurals[lang], t.tags[lang] = cat, counted, language.MustParse(lang)
	}
	var problems []string
	en, enCounted := t.catalogs["en"], t.plurals["en"]
	for _, lang := range Languages[1:] {
		for k := range en {
			if _, ok := t.catalogs[lang][k]; !ok {
				problems = append(problems, lang+" lacks "+k)
			}
		}
		for k := range enCounted {
			if _, ok := t.plurals[lang][k]; !ok {
				problems = append(problems, lang+" lacks plural forms of "+k)
			}
		}
		for k := range t.catalogs[lang] {
			if _, ok := en[k]; !ok {
				problems = append(problems, lang+" has unknown "+k)
			}
		}
		for k := range t.plurals[lang] {
			if _, ok := enCounted[k]; !ok {
				problems = append(problems, lang+" has unknown counted "+k)
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("i18n: incomplete catalogs: %s", strings.Join(problems, ", "))
	}
	return t, nil
}

// readCatalog adds the texts of one catalog file to cat and its counted
// texts to counted; a key defined twice is an error.
func readCatalog(fsys fs.FS, f string, cat map[string]string, counted map[string]map[plural.Form]string) error {
	b, err := fs.ReadFile(fsys, f)
	if err != nil {
		return fmt.Errorf("i18n: %s: %w", f, err)
	}
	part := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &part); err != nil {
		return fmt.Errorf("i18n: %s: %w", f, err)
	}
	for k, raw := range part {
		_, dup := cat[k]
		_, dupCounted := counted[k]
		if dup || dupCounted {
			return fmt.Errorf("i18n: %s: key %q is defined twice", f, k)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("i18n: %s: %q: %w", f, k, err)
			}
			cat[k] = v
			continue
		}
		var byName map[string]string
		if err := json.Unmarshal(raw, &byName); err != nil {
			return fmt.Errorf("i18n: %s: %q: %w", f, k, err)
		}
		forms := map[plural.Form]string{}
		for name, v := range byName {
			form, ok := pluralForms[name]
			if !ok {
				return fmt.Errorf("i18n: %s: %q: %q is not a CLDR plural category (zero, one, two, few, many, other)", f, k, name)
			}
			forms[form] = v
		}
		if _, ok := forms[plural.Other]; !ok {
			return fmt.Errorf("i18n: %s: %q: plural forms need \"other\"", f, k)
		}
		counted[k] = forms
	}
	return nil
}

// T returns the message for key in lang (English when lang is unknown),
// formatted with args; a missing key renders as the key itself. For a
// counted text the first integer argument chooses the plural form (N
// chooses by another number).
func (t *Translator) T(lang, key string, args ...any) string {
	if forms, ok := t.countedText(lang, key); ok {
		n, _ := firstInt(args)
		return format(t.form(lang, forms, n), args)
	}
	cat, ok := t.catalogs[lang]
	if !ok {
		cat = t.catalogs["en"]
	}
	msg, ok := cat[key]
	if !ok {
		return key
	}
	return format(msg, args)
}

// N returns the counted text key in lang in the plural form for n,
// formatted with args (which name n again where the text shows it). A text
// without plural forms is returned as T returns it.
func (t *Translator) N(lang, key string, n int, args ...any) string {
	forms, ok := t.countedText(lang, key)
	if !ok {
		return t.T(lang, key, args...)
	}
	return format(t.form(lang, forms, n), args)
}

// PluralForm returns the CLDR cardinal category of n in lang.
func (t *Translator) PluralForm(lang string, n int) plural.Form {
	tag, ok := t.tags[lang]
	if !ok {
		tag = t.tags["en"]
	}
	return plural.Cardinal.MatchPlural(tag, abs(n), 0, 0, 0, 0)
}

// CountedKeys returns the English keys of the counted texts, sorted.
func (t *Translator) CountedKeys() []string { return slices.Sorted(maps.Keys(t.plurals["en"])) }

// HasForm reports whether the counted text key of lang defines form itself.
func (t *Translator) HasForm(lang, key string, form plural.Form) bool {
	_, ok := t.plurals[lang][key][form]
	return ok
}

func (t *Translator) countedText(lang, key string) (map[plural.Form]string, bool) {
	counted, ok := t.plurals[lang]
	if !ok {
		counted = t.plurals["en"]
	}
	forms, ok := counted[key]
	return forms, ok
}

// form picks n's form of forms, "other" when the catalog leaves it out.
func (t *Translator) form(lang string, forms map[plural.Form]string, n int) string {
	if msg, ok := forms[t.PluralForm(lang, n)]; ok {
		return msg
	}
	return forms[plural.Other]
}

func firstInt(args []any) (int, bool) {
	for _, a := range args {
		switch v := a.(type) {
		case int:
			return v, true
		case int64:
			return int(v), true
		case int32:
			return int(v), true
		}
	}
	return 0, false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// format formats msg with the arguments it uses.
func format(msg string, args []any) string {
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

// Keys returns the English keys of the texts without plural forms, sorted.
func (t *Translator) Keys() []string { return slices.Sorted(maps.Keys(t.catalogs["en"])) }

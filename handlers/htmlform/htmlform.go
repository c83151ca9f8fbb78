// Package htmlform reads the server's HTML pages the way a browser without
// JavaScript would: finds elements and collects a form's fields. The test
// harness (handlers/handlertest) and the load generator (bench/load) both
// walk the hosted flows with it.
package htmlform

import (
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Find returns the first element under n (n included) matching pred, or nil.
func Find(n *html.Node, pred func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && pred(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := Find(c, pred); f != nil {
			return f
		}
	}
	return nil
}

// FindAll returns every element under n (n included) matching pred.
func FindAll(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// Attr returns an attribute's value ("" when absent).
func Attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// Values returns the action and the hidden (or filled-in) inputs of the
// first form whose action contains actionPart and, when key is not empty,
// which has an input key=val.
func Values(doc *html.Node, actionPart, key, val string) (string, url.Values, error) {
	for _, f := range FindAll(doc, func(n *html.Node) bool { return n.Data == "form" && strings.Contains(Attr(n, "action"), actionPart) }) {
		vals := url.Values{}
		for _, in := range FindAll(f, func(n *html.Node) bool { return n.Data == "input" }) {
			if Attr(in, "name") != "" && (Attr(in, "type") == "hidden" || Attr(in, "value") != "") {
				vals.Set(Attr(in, "name"), Attr(in, "value"))
			}
		}
		if key != "" && vals.Get(key) != val {
			continue
		}
		return Attr(f, "action"), vals, nil
	}
	if key != "" {
		return "", nil, errors.New("no form with action " + actionPart + " and " + key + "=" + val)
	}
	return "", nil, errors.New("no form with action " + actionPart)
}

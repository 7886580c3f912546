package gate

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a secret in a URL.
const redacted = "***"

// RedactURL returns rawURL fit to print: the password of its user info
// and the value of every query parameter become "***"
// (http://user:***@host/path?token=***). Every URL that the gates print,
// in progress messages and errors, goes through it. A string that does not
// parse as a URL is redacted by pattern.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactLoose(rawURL)
	}
	_, hasPassword := u.User.Password()
	if !hasPassword && u.RawQuery == "" {
		return rawURL
	}
	c := *u
	var user string // user info with the password hidden, escaped
	if c.User != nil {
		if _, has := c.User.Password(); has {
			// url.UserPassword would escape the asterisks.
			user = url.User(c.User.Username()).String() + ":" + redacted
			c.User = nil
		}
	}
	if c.RawQuery != "" {
		c.RawQuery = redactQuery(c.RawQuery)
	}
	s := c.String()
	if user != "" {
		s = strings.Replace(s, "//", "//"+user+"@", 1)
	}
	return s
}

// redactQuery keeps the names of a raw query's parameters, in order, and
// hides their values.
func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if k, _, found := strings.Cut(p, "="); found {
			parts[i] = k + "=" + redacted
		} else if p != "" {
			// ?SECRET with no name: hide it all.
			parts[i] = redacted
		}
	}
	return strings.Join(parts, "&")
}

var (
	looseUserInfo = regexp.MustCompile(`(//[^/?#@:]*):[^/?#@]*@`)
	looseQuery    = regexp.MustCompile(`\?[^#]*`)
)

func redactLoose(s string) string {
	s = looseUserInfo.ReplaceAllString(s, "${1}:"+redacted+"@")
	return looseQuery.ReplaceAllStringFunc(s, func(q string) string { return "?" + redactQuery(q[1:]) })
}

// redactErr hides the secrets of the URL that a net/http error (a
// *url.Error) names; net/http hides a password, but not a query.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}
	return err
}

// HideSecretsOf replaces, in text (such as a body a server sent back), the
// password and the query values of rawURL: a server may echo the request.
func HideSecretsOf(text, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return text
	}
	var secrets []string
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	for _, vs := range u.Query() {
		secrets = append(secrets, vs...)
	}
	for _, secret := range secrets {
		if len(secret) >= 3 {
			text = strings.ReplaceAll(text, secret, redacted)
			text = strings.ReplaceAll(text, url.QueryEscape(secret), redacted)
		}
	}
	return text
}

var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// RedactText redacts every URL in a free text, such as an error from a
// library that names the URL it requested (see RedactURL).
func RedactText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}

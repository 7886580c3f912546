package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/notify"
)

// notifyFlags say whom a release tells: --notify, the webhooks told of
// each transition, and --commit-status, the forge.
type notifyFlags struct {
	urls         []string
	commitStatus bool
}

func (n *notifyFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&n.urls, "notify", nil, "post a JSON event to this webhook `URL` at each transition (deploy, promote, each step, rollback, guard's breach); its \"text\" shows in Slack and Mattermost; repeatable, also $BGRENDER_NOTIFY (comma or space separated); a failed notification is a warning, never a failed release")
	fs.BoolVar(&n.commitStatus, "commit-status", false, "set the commit status bgrender/APP on each commit (the pull request's head with --pull-request) through the forge's API: pending, then success once the release ends (with --wait-live: once the cluster serves it) or failure with the reason; a status that cannot be set is a warning")
}

// notifier is the Notifier of the flags and $BGRENDER_NOTIFY, nil when
// neither names a webhook; its warnings go to stderr as the command's.
func (n *notifyFlags) notifier(s streams, cmd string) (*notify.Notifier, error) {
	urls := slices.Clone(n.urls)
	for _, u := range notify.Parse(os.Getenv("BGRENDER_NOTIFY")) {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, nil
	}
	for _, u := range urls {
		if err := notify.Validate(u); err != nil {
			return nil, usageError("%v", err)
		}
	}
	return &notify.Notifier{URLs: urls, Warn: func(m string) { fmt.Fprintf(s.err, "bgrender %s: %s\n", cmd, m) }}, nil
}

// forgeFlag names the flag that needs the forge, for its errors.
func (n *notifyFlags) forgeFlag(pullRequest bool) string {
	if pullRequest {
		return "--pull-request"
	}
	return "--commit-status"
}

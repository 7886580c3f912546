package gate

import (
	"context"
	"strings"

	"github.com/bgrender/bgrender/live"
)

// runMigration is the migration gate: it refuses to send traffic to a
// color whose image has no succeeded expand migration Job in the cluster,
// since the new version would meet a schema it was not built for. The app
// folder names the Job (see render.ExpandJob: its name hashes the image
// and the pod), so an old Job of the same image with another command does
// not count. It runs when the folder names an expand Job for the color. deploy --wait sets Image and waits for the new
// image's Job itself, before its gates (the folder's names were read
// before its commit).
func (c Checks) runMigration(ctx context.Context, s Subject) error {
	job := c.ExpandJobs[s.Color]
	if job == "" || c.Image != "" {
		return nil
	}
	st, err := live.ReadJob(ctx, s.Client, s.Namespace, job)
	switch {
	case err != nil:
		return err
	case !st.Found:
		return refuse("migration", "the expand Job %s/%s of %s's image is not in the cluster: it has not run (is the folder applied? deploy --wait waits for it)", s.Namespace, job, s.Color)
	case st.Failed:
		return refuse("migration", "the expand Job %s/%s of %s's image failed (%s): fix the migration and deploy again", s.Namespace, job, s.Color, strings.Join(st.Conditions, "; "))
	case !st.Succeeded:
		return refuse("migration", "the expand Job %s/%s of %s's image has not succeeded yet (deploy --wait waits for it)", s.Namespace, job, s.Color)
	}
	c.say("migration: %s: the expand Job %s succeeded", s.Color, job)
	return nil
}

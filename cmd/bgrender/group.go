package main

import (
	"context"
	"strings"
	"time"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// Several apps as one: promote and rollback with --path given several
// times plan one release (release.PlanGroup): every app's gates, then one
// commit that changes every folder, then a wait per app.

// group runs a promote or rollback of every --path as one commit. gates
// are the flags' gates (nil: rollback, which has none); action builds an
// app's action on its folder.
func (g *gitFlags) runGroup(ctx context.Context, s streams, t *promote.Target, opts *cluster.Options, gates *release.Gates, after *liveFlags,
	cmd string, action func(promote.Target) promote.Member, start time.Time) error {
	var members []*release.Member
	for _, path := range g.paths {
		m, err := groupMember(ctx, t, path, opts, gates, after.any())
		if err != nil {
			return nothingCommitted(err)
		}
		m.Action = action(*m.target)
		members = append(members, &m.Member)
	}
	gt := *t
	gt.Path = strings.Join(g.paths, ", ")
	p := release.PlanGroup(release.GroupOptions{Action: cmd, Target: &gt, Members: members, Live: after.live()})
	_, err := execute(ctx, s, g, &gt, opts, cmd, p, nil, start)
	return err
}

// member is a group's app being read: its target in Git too.
type member struct {
	release.Member
	target *promote.Target
}

// groupMember reads the app folder at path, when its gates or the wait
// after the commit need it, with its own copy of the cluster options: its
// folder names its namespace.
func groupMember(ctx context.Context, t *promote.Target, path string, opts *cluster.Options, gates *release.Gates, after bool) (*member, error) {
	mt := *t
	mt.Path = path
	o := *opts
	m := &member{Member: release.Member{Path: path, Cluster: &o}, target: &mt}
	var err error
	switch {
	case gates != nil:
		m.Gates = gates.ForApp(&o)
		m.State, err = m.Gates.ReadFolder(ctx, &mt, after)
	case after:
		m.State, err = release.ReadFolder(ctx, &o, &mt)
	}
	return m, err
}

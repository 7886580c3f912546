package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// errMoved means the push was rejected because the branch moved.
var errMoved = errors.New("branch moved")

// push pushes the commit of res. The target branch is pushed without
// force: the remote accepts it only as a fast-forward of the commit it was
// built on. A pull-request branch (PushBranch) is bgrender's own and is
// overwritten. A rejected push whose branch has moved returns errMoved.
func (u *Update) push(ctx context.Context, res *Result) error {
	ref := plumbing.NewBranchReferenceName(res.Pushed)
	spec := config.RefSpec(ref.String() + ":" + ref.String())
	if u.PushBranch != nil {
		spec = "+" + spec
	}
	// The server's own messages (a pre-receive hook's "main is
	// protected") arrive on the progress side band.
	var remote bytes.Buffer
	err := res.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       u.Repo.Auth,
		Progress:   &limitedWriter{buf: &remote, max: 4 << 10},
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		if u.PushBranch != nil {
			return nil
		}
		// The branch already holds this very commit: another run made the
		// same change at the same second and pushed it first. Read the
		// branch again; the editor then finds nothing to do.
		return errMoved
	}
	if u.PushBranch == nil {
		tip, lerr := u.Repo.Tip(ctx, res.Pushed)
		if lerr == nil && tip != res.Base {
			return errMoved
		}
	}
	err = fmt.Errorf("push to %s: %w", res.Pushed, err)
	if msg := strings.TrimSpace(remote.String()); msg != "" {
		err = fmt.Errorf("%w (the server said: %s)", err, strings.Join(strings.Fields(msg), " "))
	}
	return u.Repo.redact(err)
}

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Tip returns the commit at the tip of branch on the remote ("" when the
// branch does not exist).
func (r *Repo) Tip(ctx context.Context, branch string) (string, error) {
	refs, err := r.ls(ctx)
	if err != nil {
		return "", err
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", nil
}

func (r *Repo) ls(ctx context.Context) ([]*plumbing.Reference, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{r.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: r.Auth})
	if err != nil {
		return nil, fmt.Errorf("list branches of %s: %w", r.URL, r.redact(err))
	}
	return refs, nil
}

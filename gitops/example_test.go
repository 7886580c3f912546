package gitops_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/gitops"
)

// An Update with an Editor that rewrites one file of the app folder: the
// commit changes that file alone and carries the Bgrender-* trailers.
func ExampleUpdate() {
	dir, err := os.MkdirTemp("", "gitops-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		out, err := cmd.Output()
		if err != nil {
			panic(err)
		}
		return string(out)
	}
	// A GitOps repository with one app folder, made with the git CLI.
	os.MkdirAll(filepath.Join(dir, "src", "apps", "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "apps", "web", "color.txt"), []byte("blue\n"), 0o644)
	git("init", "--quiet", "--initial-branch=main", "src")
	git("-C", "src", "add", ".")
	git("-C", "src", "commit", "--quiet", "-m", "seed")
	git("clone", "--quiet", "--bare", "src", "gitops.git")

	repo, err := gitops.OpenRepo(filepath.Join(dir, "gitops.git"), gitops.RepoOptions{})
	if err != nil {
		panic(err)
	}
	u := &gitops.Update{
		Repo: repo,
		Path: "apps/web",
		Editor: gitops.EditorFunc(func(dir string, _ []*object.Commit) (*gitops.Change, error) {
			c := &gitops.Change{Action: "promote", App: "web", From: "blue", To: "green",
				Summary: "switch traffic from blue to green", State: "blue"}
			return c, os.WriteFile(filepath.Join(dir, "color.txt"), []byte("green\n"), 0o644)
		}),
	}
	res, err := u.Run(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("committed to", res.Branch)
	fmt.Print(git("-C", "gitops.git", "log", "-1", "--format=%B", "main"))
	fmt.Print(git("-C", "gitops.git", "diff", "--stat", "main~1", "main"))
	// Output:
	// committed to main
	// promote web: switch traffic from blue to green
	//
	// promote of web in apps/web on main, written by bgrender.
	//
	// Bgrender-App: web
	// Bgrender-Action: promote
	// Bgrender-From: blue
	// Bgrender-To: green
	//
	//  apps/web/color.txt | 2 +-
	//  1 file changed, 1 insertion(+), 1 deletion(-)
}

// An Update of two app folders, each with its own Editor: one commit
// changes both and names both apps.
func ExampleUpdate_folders() {
	dir, err := os.MkdirTemp("", "gitops-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		out, err := cmd.Output()
		if err != nil {
			panic(err)
		}
		return string(out)
	}
	for _, app := range []string{"web", "api"} {
		os.MkdirAll(filepath.Join(dir, "src", "apps", app), 0o755)
		os.WriteFile(filepath.Join(dir, "src", "apps", app, "color.txt"), []byte("blue\n"), 0o644)
	}
	git("init", "--quiet", "--initial-branch=main", "src")
	git("-C", "src", "add", ".")
	git("-C", "src", "commit", "--quiet", "-m", "seed")
	git("clone", "--quiet", "--bare", "src", "gitops.git")

	repo, err := gitops.OpenRepo(filepath.Join(dir, "gitops.git"), gitops.RepoOptions{})
	if err != nil {
		panic(err)
	}
	flip := func(app string) gitops.Editor {
		return gitops.EditorFunc(func(dir string, _ []*object.Commit) (*gitops.Change, error) {
			c := &gitops.Change{Action: "promote", App: app, From: "blue", To: "green",
				Summary: "switch traffic from blue to green", State: "blue"}
			return c, os.WriteFile(filepath.Join(dir, "color.txt"), []byte("green\n"), 0o644)
		})
	}
	u := &gitops.Update{Repo: repo, Folders: []gitops.Folder{
		{Path: "apps/web", Editor: flip("web")},
		{Path: "apps/api", Editor: flip("api")},
	}}
	if _, err := u.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Print(git("-C", "gitops.git", "log", "-1", "--format=%B", "main"))
	fmt.Print(git("-C", "gitops.git", "diff", "--stat", "main~1", "main"))
	// Output:
	// promote web, api: web: switch traffic from blue to green; api: switch traffic from blue to green
	//
	// promote of web, api in apps/web, apps/api on main, written by bgrender.
	//
	// Bgrender-App: web, api
	// Bgrender-Action: promote
	// Bgrender-From: blue
	// Bgrender-To: green
	//
	//  apps/api/color.txt | 2 +-
	//  apps/web/color.txt | 2 +-
	//  2 files changed, 2 insertions(+), 2 deletions(-)
}

package main

import (
	"strings"
	"testing"
)

// TestDeployRefusesBadImage: --image is checked before anything is read
// or pushed, on both layouts: exit 2, nothing on stdout, no commit. A
// newline cannot smuggle trailer lines into the commit message.
func TestDeployRefusesBadImage(t *testing.T) {
	for _, layout := range []string{"plain", "managed"} {
		r := newGitopsRepo(t, layout, 0)
		for _, image := range []string{"BAD IMAGE", "myapp:1\n\nBgrender-Action: promote\nBgrender-To: purple", "myapp:", ""} {
			res := r.run(t, "deploy", "--image", image)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "--image") {
				t.Errorf("%s: deploy --image %q: exit %d, stdout %q, stderr %s", layout, image, res.code, res.stdout, res.stderr)
			}
		}
		if r.commits(t) != 1 || r.srv.Pushes() != 0 {
			t.Errorf("%s: a refused deploy pushed", layout)
		}
	}
}

// TestErrorsNameTheRepositoryFolder: an error about a file of the app
// folder names it as it is in the repository, never the temporary folder
// bgrender worked in.
func TestErrorsNameTheRepositoryFolder(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	res := r.run(t, "promote", "--file", "nope.yaml")
	if res.code != 2 || !strings.Contains(res.stderr, appPath+"/nope.yaml") || strings.Contains(res.stderr, "bgrender-app-") {
		t.Errorf("exit %d, stderr %s", res.code, res.stderr)
	}
	res = runCLI(t, "", "promote", "--repo", r.url, "--path", "../"+appPath)
	if res.code != 2 || !strings.Contains(res.stderr, "without ..") {
		t.Errorf("--path with ..: exit %d, stderr %s", res.code, res.stderr)
	}
}

// TestInvalidSpecInRepoNamesTheFolder: a broken bgrender.yaml in the
// repository is reported with the command and the app folder, so that in
// a monorepo the user knows which one; nothing is pushed.
func TestInvalidSpecInRepoNamesTheFolder(t *testing.T) {
	r := newGitopsRepo(t, "managed", 0)
	r.handCommit(t, "bgrender.yaml", "  replicas: 3", "  replicas: [")
	before := r.commits(t)
	res := r.run(t, "promote")
	if res.code != 2 || res.stdout != "" || !strings.HasPrefix(res.stderr, "bgrender promote: "+appPath+": bgrender.yaml:") {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if r.commits(t) != before {
		t.Fatal("pushed")
	}
}

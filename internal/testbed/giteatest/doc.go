// Package giteatest runs a real Gitea server for tests of pull requests:
// the binary that hack/install-tools.sh builds into .tools/bin/gitea (or
// GITEA_BIN), with SQLite, on a loopback port, with an admin user and an
// API token.
//
//	srv := giteatest.Start(t)
//	url := srv.CreateRepo(t, "gitops", seedDir) // pushed with the git CLI
//	... code under test opens a pull request with srv.Token ...
//	srv.Merge(t, "gitops", number)
//
// When the binary is missing, Start fails the test, except under
// go test -short, where it skips it.
package giteatest

// Package gittest runs a real smart-HTTP Git server for tests: `git
// http-backend` served through net/http/cgi on a loopback port, with an
// optional token check and injectable faults (a 500 on receive-pack, a
// connection cut in the middle of a push, every credential rejected).
//
//	srv := gittest.NewServer(t, gittest.WithToken("s3cret"))
//	url := srv.CreateRepo(t, "gitops", seedDir)   // bare repo seeded from a folder
//	...                                           // the code under test clones and pushes url
//	dir := srv.Clone(t, "gitops")                 // read it back with the git CLI
//	gittest.Git(t, dir, "log", "--format=%B")
//
// BackendLog returns what git http-backend wrote to standard error (such as
// the "cannot lock ref" lines of pushes that lost a race); with
// GITTEST_DEBUG=1 the server also prints every push's answer.
//
// The server needs the git CLI. When it is missing, NewServer fails the test,
// except under go test -short, where it skips it.
package gittest

// Package loop_test runs bgrender's stories on a cluster whose controllers
// run (internal/testbed/loop): Flux applies bgrender's commits, the
// deployment controller rolls a color out on kwok's nodes, the
// EndpointSlice controller follows the Service's selector. Nothing here
// writes a status by hand.
//
// The stories share one bed, each in its own namespaces and with its own
// Flux objects. Most run one after the other: the data plane's stories
// judge timing that another story's load would blur. The few that mostly
// wait — on metrics-server's scrapes, Prometheus windows, holds (the
// metrics capacity story, the fleet story, the GitLab pipeline) — call
// t.Parallel, so that go test runs them together (up to -parallel, by
// default GOMAXPROCS) once the others are done; they must not share a Flux
// object's name with each other (TestGitLabPipeline uses the examples'
// gitops and my-application, so TestGitHubWorkflow, which uses them too,
// stays sequential).
package loop_test

import (
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/loop"
)

func TestMain(m *testing.M) { loop.Main(m) }

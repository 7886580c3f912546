// Package loop_test runs bgrender's stories on a cluster whose controllers
// run (internal/testbed/loop): Flux applies bgrender's commits, the
// deployment controller rolls a color out on kwok's nodes, the
// EndpointSlice controller follows the Service's selector. Nothing here
// writes a status by hand.
package loop_test

import (
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/loop"
)

func TestMain(m *testing.M) { loop.Main(m) }

package gate_test

import (
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

package gate_test

import (
	"testing"

	"github.com/bgrender/bgrender/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

package gate

import (
	"fmt"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// Refused says which gate refused a promotion and why, with the value it
// measured.
type Refused struct {
	Gate   string // rollout, health, warm-up, error-rate
	Reason string
}

func (r *Refused) Error() string { return r.Gate + " gate refused: " + r.Reason }

// refuse returns a *Refused wrapped with exit code 3.
func refuse(gate, format string, args ...any) error {
	return exitcode.GateRefused(&Refused{Gate: gate, Reason: fmt.Sprintf(format, args...)})
}

package gate

import (
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// ValidateFlags checks checks filled from the gate flags (bad usage, exit
// 2); timeoutFlag names the rollout gate's wait. The flags default to
// usable values, so a zero here was asked for.
func ValidateFlags(c *Checks, timeoutFlag string) error {
	switch {
	case c.Timeout < 0:
		return exitcode.Invalidf("--%s %s: want a positive duration", timeoutFlag, c.Timeout)
	case c.HealthAttempts <= 0:
		return exitcode.Invalidf("--health-attempts %d: want at least 1", c.HealthAttempts)
	case c.WarmRequests <= 0:
		return exitcode.Invalidf("--warm-requests %d: want at least 1", c.WarmRequests)
	case c.Measurements <= 0:
		return exitcode.Invalidf("--measurements %d: want at least 1", c.Measurements)
	case c.MeasurementInterval <= 0:
		return exitcode.Invalidf("--measurement-interval %s: want a positive duration", c.MeasurementInterval)
	}
	return ValidateErrorRate(c)
}

// ValidateErrorRate checks the error-rate settings (also guard's).
func ValidateErrorRate(c *Checks) error {
	if err := c.Validate(); err != nil {
		return exitcode.Invalidf("%v", err)
	}
	if c.Window < time.Second {
		return exitcode.Invalidf("--window %s: want a duration of at least 1s", c.Window)
	}
	return nil
}

// standIn is the Prometheus URL that checks the form of the error-rate
// flags before the folder's gates are read; it is never requested.
const standIn = "http://spec-gates.invalid"

// FlagsOnly returns the checks to validate before the app folder is read
// (bad usage, exit 2, before Git or the cluster is contacted): each flag
// given must be valid, but a setting the folder's gates may still supply
// (the error-rate gate's URL or maximum) is not required yet: Merge and
// MergeGuard check the whole.
func FlagsOnly(changed Changed, c *Checks) *Checks {
	probe := *c
	rate := changed("max-error-rate") || changed("query")
	if probe.PrometheusURL == "" && !changed("prometheus-url") && rate {
		probe.PrometheusURL = standIn
	}
	if probe.MaxErrorRate == 0 && !changed("max-error-rate") && probe.PrometheusURL != "" {
		probe.MaxErrorRate = 1
	}
	if !changed("measurements") && probe.FailureLimit > 0 {
		probe.Measurements = probe.FailureLimit + 1 // the spec's count may allow it
	}
	return &probe
}

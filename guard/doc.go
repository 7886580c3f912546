// Package guard watches the live color of an app after a promotion: every
// interval, for a window, it asks its probes (the color's error rate in
// Prometheus, the readiness of its Deployment) whether the release
// breaches, and reports the first breach, which bgrender guard answers
// with a rollback commit. A probe that cannot read (Prometheus or the API
// server failing) is retried at the next tick and reported, never taken
// for a breach. The error-rate probe records its readings (Readings: the
// last ones, each with its time), which the reaction's commit shows.
package guard

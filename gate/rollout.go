package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/cluster"
)

// RolloutState is where a Deployment's rollout stands.
type RolloutState string

// The rollout states.
const (
	RolloutProgressing RolloutState = "progressing"
	RolloutComplete    RolloutState = "complete"
	RolloutFailed      RolloutState = "failed" // past its progress deadline
)

// ReasonDeadlineExceeded is the reason of the Progressing condition of a
// Deployment that is past its progress deadline.
const ReasonDeadlineExceeded = "ProgressDeadlineExceeded"

// Rollout reports where a Deployment's rollout stands and why, with the
// rules of `kubectl rollout status`, made strict about readiness: the
// controller has observed the current generation; the Progressing condition
// is not ProgressDeadlineExceeded; every desired replica is updated; no
// old replicas remain; and every desired replica is ready and available.
func Rollout(d *appsv1.Deployment) (RolloutState, string) {
	if d.Generation > d.Status.ObservedGeneration {
		return RolloutProgressing, fmt.Sprintf("waiting for the controller to observe generation %d (observed %d)", d.Generation, d.Status.ObservedGeneration)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == ReasonDeadlineExceeded {
			msg := "exceeded its progress deadline"
			if d.Spec.ProgressDeadlineSeconds != nil {
				msg += fmt.Sprintf(" of %ds", *d.Spec.ProgressDeadlineSeconds)
			}
			if c.Message != "" {
				msg += ": " + c.Message
			}
			return RolloutFailed, msg
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	paused := ""
	if d.Spec.Paused {
		paused = " (the Deployment is paused: kubectl rollout resume)"
	}
	switch {
	case s.UpdatedReplicas < want:
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas updated%s", s.UpdatedReplicas, want, paused)
	case s.Replicas > s.UpdatedReplicas:
		return RolloutProgressing, fmt.Sprintf("%d old replicas pending termination%s", s.Replicas-s.UpdatedReplicas, paused)
	case s.ReadyReplicas < want:
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas ready", s.ReadyReplicas, want)
	case s.AvailableReplicas < want:
		return RolloutProgressing, fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, want)
	case s.AvailableReplicas < s.UpdatedReplicas:
		// As kubectl rollout status: every updated replica available.
		return RolloutProgressing, fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return RolloutComplete, fmt.Sprintf("%d of %d replicas updated, ready and available", s.AvailableReplicas, want)
}

// Images lists the images of a Deployment's pod template containers.
func Images(d *appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// RunsImage reports whether some container of the pod template runs image.
func RunsImage(d *appsv1.Deployment, image string) bool {
	return slices.Contains(Images(d), image)
}

// DeploymentFrom converts an unstructured Deployment to the typed struct.
func DeploymentFrom(u *unstructured.Unstructured) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
		return nil, fmt.Errorf("read Deployment %s: %w", u.GetName(), err)
	}
	return d, nil
}

// RolloutGate waits until a Deployment is fully rolled out (see Rollout).
// It watches the Deployment rather than polling it: one list, then a watch
// from the list's resource version, listing again only when the server
// ends the watch.
type RolloutGate struct {
	// Client lists; its requests may be bounded by a per-request timeout.
	Client dynamic.Interface
	// WatchClient watches (default: Client). It must not be made from a
	// rest.Config with a Timeout, which would end every watch after that
	// long (see cluster.ForWatch): the gate's context bounds the watch.
	WatchClient dynamic.Interface
	Namespace   string
	Deployment  string
	// Timeout bounds the wait; 0 waits as long as ctx allows.
	Timeout time.Duration
	// Progress, if set, is called with each new state message.
	Progress func(msg string)
	// WatchTimeout asks the server to end each watch after this long (0:
	// the server's default, minutes); the gate then lists and watches again.
	WatchTimeout time.Duration
	// Image, if set, must be the image of some container of the pod
	// template (as after a deploy that Argo CD or Flux has applied); until
	// then the rollout is progressing, whatever the status says.
	Image string
}

// Run waits for the rollout. It returns nil once the Deployment is rolled
// out, a refusal (exit 3) when it is past its progress deadline or the
// timeout ends first, and an ordinary error when the API server fails,
// or has not answered the first list request when the timeout ends (the
// gate then knows nothing of the Deployment). The timeout bounds the whole
// gate, its first request included.
func (g RolloutGate) Run(ctx context.Context) error {
	if g.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.Timeout)
		defer cancel()
	}
	w := &rolloutWatch{gate: g, last: "deployment not found"}
	err := w.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if !w.listed {
				return fmt.Errorf("rollout gate: list deployment %s/%s: the API server did not answer within %s", g.Namespace, g.Deployment, g.waited())
			}
			return refuse("rollout", "deployment %s/%s not rolled out after %s: %s", g.Namespace, g.Deployment, g.waited(), w.last)
		}
	}
	return err
}

func (g RolloutGate) waited() string {
	if g.Timeout > 0 {
		return g.Timeout.String()
	}
	return "the deadline"
}

type rolloutWatch struct {
	gate   RolloutGate
	last   string
	listed bool // the API server answered a list request
}

// errDone ends the watch loop after a complete rollout.
var errDone = errors.New("rolled out")

func (w *rolloutWatch) run(ctx context.Context) error {
	g := w.gate
	ri := g.Client.Resource(cluster.Deployments).Namespace(g.Namespace)
	wc := g.WatchClient
	if wc == nil {
		wc = g.Client
	}
	wi := wc.Resource(cluster.Deployments).Namespace(g.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", g.Deployment).String()
	for {
		list, err := ri.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return w.apiError(ctx, "list", err)
		}
		w.listed = true
		if len(list.Items) == 0 {
			w.report("deployment not found")
		}
		for i := range list.Items {
			if err := w.observe(&list.Items[i]); err != nil {
				return w.result(err)
			}
		}
		opts := metav1.ListOptions{FieldSelector: sel, ResourceVersion: list.GetResourceVersion(), AllowWatchBookmarks: true}
		if g.WatchTimeout > 0 {
			opts.TimeoutSeconds = ptr.To(int64(max(1, g.WatchTimeout/time.Second)))
		}
		watcher, err := wi.Watch(ctx, opts)
		if err != nil {
			return w.apiError(ctx, "watch", err)
		}
		err = w.consume(ctx, watcher)
		watcher.Stop()
		if err != nil {
			return w.result(err)
		}
		// The server ended the watch (timeout, expired resource version):
		// list again.
	}
}

// consume handles watch events until the watch ends (nil) or the rollout
// is decided or the context ends (an error).
func (w *rolloutWatch) consume(ctx context.Context, wi watch.Interface) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				if err := w.observe(u); err != nil {
					return err
				}
			case watch.Deleted:
				w.report("deployment deleted")
			case watch.Error:
				// Typically 410 Gone: the resource version is too old.
				return nil
			}
		}
	}
}

func (w *rolloutWatch) observe(u *unstructured.Unstructured) error {
	d, err := DeploymentFrom(u)
	if err != nil {
		return err
	}
	state, msg := Rollout(d)
	if img := w.gate.Image; img != "" && !RunsImage(d, img) {
		state, msg = RolloutProgressing, fmt.Sprintf("waiting for image %s (the pod template runs %s)", img, strings.Join(Images(d), ", "))
	}
	w.report(msg)
	switch state {
	case RolloutComplete:
		if d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
			// Rolled out, but nothing would serve the traffic.
			return refuse("rollout", "deployment %s/%s has 0 replicas: no pod would serve the traffic", d.Namespace, d.Name)
		}
		return errDone
	case RolloutFailed:
		return refuse("rollout", "deployment %s/%s %s", d.Namespace, d.Name, msg)
	}
	return nil
}

func (w *rolloutWatch) report(msg string) {
	if msg == w.last && msg != "" {
		return
	}
	w.last = msg
	if w.gate.Progress != nil {
		w.gate.Progress(msg)
	}
}

func (w *rolloutWatch) result(err error) error {
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

func (w *rolloutWatch) apiError(ctx context.Context, verb string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("rollout gate: %s deployment %s/%s: %w (needs list and watch on deployments.apps)", verb, w.gate.Namespace, w.gate.Deployment, err)
	}
	return fmt.Errorf("rollout gate: %s deployment %s/%s: %w", verb, w.gate.Namespace, w.gate.Deployment, err)
}

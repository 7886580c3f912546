package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// source is a list of objects whose changes a wait watches.
type source struct {
	resource  schema.GroupVersionResource
	namespace string
	// labels and fields select the objects (Kubernetes selector syntax).
	labels, fields string
}

// errGaveUp is until's error when the timeout (or ctx) ends the wait.
var errGaveUp = errors.New("gave up")

// The first poll interval and its ceiling, when a wait cannot watch.
const (
	firstPoll = 100 * time.Millisecond
	maxPoll   = time.Second
)

// until calls done at once and again whenever one of the sources changes,
// until done is true, returns an error (other than the deadline's), or the
// timeout (default 5 minutes) passes; then it says after how long it gave
// up. Each source is listed once for its resource version and watched
// from there, so a change made after the list, even before done first
// reads, is seen within milliseconds. A watch the server ends (its
// timeout, an expired resource version) is opened again after a new list,
// and done reads again, since events may have been missed in between.
// Where a watch cannot be opened (a proxy that drops long requests, RBAC
// without the watch verb), done is polled instead, every 100 ms backing
// off to 1 s, while the watch is retried.
//
// The client must not have a per-request timeout (see cluster.ForWatch),
// or every watch ends after that long; it still works, at the cost of a
// list per timeout.
func until(ctx context.Context, client dynamic.Interface, timeout time.Duration, sources []source, done func(context.Context) (bool, error)) error {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &watcher{changed: make(chan struct{}, 1), degraded: make(chan bool, len(sources)), poll: firstPoll}
	for _, s := range sources {
		go s.watch(ctx, client, w.changed, w.degraded)
	}
	for {
		ok, err := done(ctx)
		switch {
		case ok:
			return nil
		case err != nil && ctx.Err() == nil:
			return err
		}
		if w.next(ctx) != nil {
			return fmt.Errorf("%w after %s", errGaveUp, time.Since(start).Round(time.Millisecond))
		}
	}
}

// watcher tells until when to read again.
type watcher struct {
	changed  chan struct{}
	degraded chan bool
	failing  int // sources that cannot watch now
	poll     time.Duration
}

// next blocks until a source changed, or, while a source cannot watch,
// until the next poll; it returns ctx's error when ctx ends first.
func (w *watcher) next(ctx context.Context) error {
	var tick <-chan time.Time
	if w.failing > 0 {
		tick = time.After(w.poll)
		w.poll = min(2*w.poll, maxPoll)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.changed:
			w.poll = firstPoll
			return nil
		case <-tick:
			return nil
		case d := <-w.degraded:
			if d {
				w.failing++
			} else {
				w.failing--
			}
			if w.failing > 0 && tick == nil {
				return nil // read now, and poll from here on
			}
		}
	}
}

// watch lists and watches s until ctx ends, signalling changed after each
// event and after each new list, and degraded (true) when it cannot watch,
// (false) once it can again.
func (s source) watch(ctx context.Context, client dynamic.Interface, changed chan<- struct{}, degraded chan<- bool) {
	ri := client.Resource(s.resource).Namespace(s.namespace)
	failing := false
	setFailing := func(f bool) {
		if f != failing {
			failing = f
			select {
			case degraded <- f:
			case <-ctx.Done():
			}
		}
	}
	retry := time.Second
	for ctx.Err() == nil {
		opts := metav1.ListOptions{LabelSelector: s.labels, FieldSelector: s.fields}
		list, err := ri.List(ctx, opts)
		var w watch.Interface
		if err == nil {
			opts.ResourceVersion, opts.AllowWatchBookmarks = list.GetResourceVersion(), true
			w, err = ri.Watch(ctx, opts)
		}
		if err != nil {
			setFailing(true)
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			retry = min(2*retry, 30*time.Second)
			continue
		}
		setFailing(false)
		retry = time.Second
		signal(changed) // what changed between two watches
		consume(ctx, w, changed)
		w.Stop()
	}
}

// consume signals changed after each event of w until w ends or ctx does.
func consume(ctx context.Context, w watch.Interface, changed chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return // ended by the server, or a resource version too old: list again
			}
			if ev.Type != watch.Bookmark {
				signal(changed)
			}
		}
	}
}

// signal records a change without blocking: done reads everything anew,
// so changes that arrive while it reads are coalesced into one more read.
func signal(changed chan<- struct{}) {
	select {
	case changed <- struct{}{}:
	default:
	}
}

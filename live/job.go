package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Jobs is the resource WaitJob watches.
var Jobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// LogLines is how much of a failed Job's pod log a JobFailedError keeps.
const LogLines = 20

// Job is a Job to wait for until it succeeds or fails.
type Job struct {
	Client dynamic.Interface
	// WatchClient watches the Job (default: Client; see Target).
	WatchClient dynamic.Interface
	// Config reads the log of a failed Job's pod through the API server
	// (pods/log); nil reads none.
	Config    *rest.Config
	Namespace string
	Name      string
	Timeout   time.Duration
}

// JobState is what the cluster says of a Job.
type JobState struct {
	Found     bool
	Succeeded bool // condition Complete
	Failed    bool // condition Failed
	// Conditions are the Job's final conditions (Complete, Failed), as
	// type=status: reason: message.
	Conditions []string
}

// ReadJob returns the state of Job ns/name.
func ReadJob(ctx context.Context, client dynamic.Interface, ns, name string) (JobState, error) {
	u, err := client.Resource(Jobs).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return JobState{}, nil
	case err != nil:
		return JobState{}, fmt.Errorf("get Job %s/%s: %w", ns, name, err)
	}
	var job batchv1.Job
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &job); err != nil {
		return JobState{}, fmt.Errorf("read Job %s/%s: %w", ns, name, err)
	}
	st := JobState{Found: true}
	for _, c := range job.Status.Conditions {
		// Only the end: FailureTarget and SuccessCriteriaMet come first
		// and say the same.
		if c.Status != corev1.ConditionTrue || (c.Type != batchv1.JobComplete && c.Type != batchv1.JobFailed) {
			continue
		}
		st.Succeeded = st.Succeeded || c.Type == batchv1.JobComplete
		st.Failed = st.Failed || c.Type == batchv1.JobFailed
		st.Conditions = append(st.Conditions, fmt.Sprintf("%s=%s: %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return st, nil
}

// JobFailedError is a Job that failed: its conditions and the tail of its
// last pod's log.
type JobFailedError struct {
	Namespace, Name string
	Conditions      []string
	// Pod names the pod whose log Log ends; LogErr says why there is none.
	Pod    string
	Log    string
	LogErr error
}

func (e *JobFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s/%s failed: %s", e.Namespace, e.Name, strings.Join(e.Conditions, "; "))
	switch {
	case e.Log != "":
		fmt.Fprintf(&b, "\nthe last %d lines of the log of pod %s:\n%s", LogLines, e.Pod, strings.TrimRight(e.Log, "\n"))
	case e.LogErr != nil:
		fmt.Fprintf(&b, "\n(no log: %v)", e.LogErr)
	}
	return b.String()
}

// WaitJob reads the Job, again on each change of it (see until), until it
// succeeds; a failed Job is a *JobFailedError with the tail of its pod's
// log, and a Job still running after the timeout an error saying so.
func WaitJob(ctx context.Context, j *Job) error {
	var st JobState
	watched := []source{{resource: Jobs, namespace: j.Namespace, fields: fields.OneTermEqualSelector("metadata.name", j.Name).String()}}
	err := until(ctx, watchClient(j.WatchClient, j.Client), j.Timeout, watched, func(ctx context.Context) (bool, error) {
		var err error
		st, err = ReadJob(ctx, j.Client, j.Namespace, j.Name)
		return st.Succeeded || st.Failed, err
	})
	switch {
	case err != nil && !st.Found:
		return fmt.Errorf("Job %s/%s does not exist: %w", j.Namespace, j.Name, err)
	case err != nil:
		return fmt.Errorf("Job %s/%s has not completed (%s): %w", j.Namespace, j.Name, conditionsOr(st.Conditions, "running"), err)
	case st.Failed:
		fe := &JobFailedError{Namespace: j.Namespace, Name: j.Name, Conditions: st.Conditions}
		fe.Pod, fe.Log, fe.LogErr = jobLog(ctx, j)
		return fe
	}
	return nil
}

func conditionsOr(c []string, none string) string {
	if len(c) == 0 {
		return none
	}
	return strings.Join(c, "; ")
}

// jobLog returns the last LogLines lines of the log of the Job's newest
// pod, read through the API server's pods/log.
func jobLog(ctx context.Context, j *Job) (pod, log string, err error) {
	if j.Config == nil {
		return "", "", errors.New("no API server configuration to read it")
	}
	list, err := j.Client.Resource(Pods).Namespace(j.Namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + j.Name})
	if err != nil {
		return "", "", fmt.Errorf("list the pods of Job %s: %w", j.Name, err)
	}
	if len(list.Items) == 0 {
		return "", "", fmt.Errorf("Job %s has no pod left", j.Name)
	}
	newest := list.Items[0]
	for _, p := range list.Items[1:] {
		if p.GetCreationTimestamp().After(newest.GetCreationTimestamp().Time) {
			newest = p
		}
	}
	pod = newest.GetName()
	log, err = podLog(ctx, j.Config, j.Namespace, pod)
	return pod, log, err
}

// podLog reads the tail of a pod's log: GET
// /api/v1/namespaces/NS/pods/POD/log?tailLines=N, which needs get on
// pods/log.
func podLog(ctx context.Context, cfg *rest.Config, ns, pod string) (string, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return "", err
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	base, err := url.Parse(host)
	if err != nil {
		return "", fmt.Errorf("API server URL: %w", err)
	}
	u := base.JoinPath("/api/v1/namespaces", ns, "pods", pod, "log")
	u.RawQuery = url.Values{"tailLines": {fmt.Sprint(LogLines)}, "limitBytes": {"16384"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("read the log of pod %s: %w", pod, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<10))
	if err != nil {
		return "", fmt.Errorf("read the log of pod %s: %w", pod, err)
	}
	if resp.StatusCode != http.StatusOK {
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Message != "" {
			return "", fmt.Errorf("read the log of pod %s: %s: %s", pod, resp.Status, status.Message)
		}
		return "", fmt.Errorf("read the log of pod %s: %s", pod, resp.Status)
	}
	return string(body), nil
}

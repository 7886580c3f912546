package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/live"
)

// TestExpandJobOnTheAPIServer: the expand Job's pod, created as the Job
// controller would create it, passes restricted Pod Security enforced by
// the API server (not only its warnings on the Job); and WaitJob reads a
// Job that the API server marks failed as a failure with its conditions,
// and one that completes as done.
func TestExpandJobOnTheAPIServer(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "migrations", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	dyn := srv.Dynamic()
	var jobs []*batchv1.Job
	for _, o := range renderExample(t, "../examples/migrations/app.yaml") {
		if j, ok := o.(*batchv1.Job); ok && j.Labels["bgrender.io/migration"] == "expand" {
			jobs = append(jobs, j)
		}
		if o.GetObjectKind().GroupVersionKind().Kind == "ServiceAccount" {
			create(t, ctx, srv, ns, o, "serviceaccounts", metav1.CreateOptions{})
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("%d expand Jobs rendered, want one per image (2)", len(jobs))
	}

	// The pod the Job controller would create, enforced server-side.
	job := jobs[0]
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: job.Spec.Template.ObjectMeta, Spec: job.Spec.Template.Spec}
	pod.Name = job.Name + "-pod"
	create(t, ctx, srv, ns, pod, "pods", metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	root := pod.DeepCopy()
	root.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
	root.Spec.SecurityContext.RunAsNonRoot = nil
	root.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	if _, err := createErr(ctx, srv, ns, root, "pods", metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a pod that may run as root was not refused by restricted Pod Security: %v", err)
	}

	// No Job controller runs here: the test writes the status it would.
	create(t, ctx, srv, ns, job, "jobs", metav1.CreateOptions{})
	setJobConditions(t, ctx, srv, ns, job.Name, batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"})
	err := live.WaitJob(ctx, &live.Job{Client: dyn, Namespace: ns, Name: job.Name, Timeout: 30 * time.Second})
	var failed *live.JobFailedError
	if !errors.As(err, &failed) || !strings.Contains(err.Error(), "Failed=True: BackoffLimitExceeded: Job has reached the specified backoff limit") {
		t.Fatalf("WaitJob on a failed Job: %v", err)
	}

	done := jobs[1]
	create(t, ctx, srv, ns, done, "jobs", metav1.CreateOptions{})
	go func() {
		time.Sleep(500 * time.Millisecond) // after WaitJob started watching
		setJobConditions(t, ctx, srv, ns, done.Name,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached"},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached"})
	}()
	if err := live.WaitJob(ctx, &live.Job{Client: dyn, Namespace: ns, Name: done.Name, Timeout: 30 * time.Second}); err != nil {
		t.Fatalf("WaitJob on a Job that completes: %v", err)
	}
	if err := live.WaitJob(ctx, &live.Job{Client: dyn, Namespace: ns, Name: "orders-expand-missing", Timeout: time.Second}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("WaitJob on a missing Job: %v", err)
	}
}

func create(t *testing.T, ctx context.Context, srv *kubetest.Server, ns string, o runtime.Object, resource string, opts metav1.CreateOptions) {
	t.Helper()
	if _, err := createErr(ctx, srv, ns, o, resource, opts); err != nil {
		t.Fatal(err)
	}
}

func createErr(ctx context.Context, srv *kubetest.Server, ns string, o runtime.Object, resource string, opts metav1.CreateOptions) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetNamespace(ns)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: resource} // pods, serviceaccounts
	if resource == "jobs" {
		gvr = live.Jobs
	}
	return srv.Dynamic().Resource(gvr).Namespace(ns).Create(ctx, u, opts)
}

// setJobConditions writes a Job's status as the Job controller does
// (startTime, and for a finished Job completionTime or the failure).
func setJobConditions(t *testing.T, ctx context.Context, srv *kubetest.Server, ns, name string, conds ...batchv1.JobCondition) {
	ri := srv.Dynamic().Resource(live.Jobs).Namespace(ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	now := metav1.Now()
	st := batchv1.JobStatus{StartTime: &now}
	for _, c := range conds {
		c.LastProbeTime, c.LastTransitionTime = now, now
		st.Conditions = append(st.Conditions, c)
		if c.Type == batchv1.JobComplete {
			st.CompletionTime, st.Succeeded = &now, 1
		}
		if c.Type == batchv1.JobFailed {
			st.Failed = 1
			st.Conditions = append([]batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: c.Reason, Message: c.Message, LastProbeTime: now, LastTransitionTime: now}}, st.Conditions...)
		}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		t.Error(err)
		return
	}
	u.Object["status"] = m
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Errorf("update the status of Job %s: %v", name, err)
	}
}

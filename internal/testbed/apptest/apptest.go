// Package apptest puts rendered bgrender apps into a real API server for
// tests (internal/testbed/kubetest) and plays the parts of the controllers that
// server does not run: it writes Deployment status as the deployment
// controller would, and Pods and EndpointSlices as the kubelet and the
// EndpointSlice controller would.
package apptest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// Resources the helpers write besides cluster's.
var (
	Pods           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	EndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

// Spec returns a defaulted, validated app: name in namespace, blue on
// image:1, green on image:2, replicas per color, one port "http" 8080 →
// service port 80, blue active. Extra YAML lines under spec may be given
// (indented by two spaces), e.g. "  active: green".
func Spec(name, namespace string, replicas int, extra ...string) (*spec.BlueGreenApp, error) {
	y := fmt.Sprintf(`apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: %s, namespace: %s}
spec:
  blue: {image: "registry.example/%s:1"}
  green: {image: "registry.example/%s:2"}
  replicas: %d
  ports: [{name: http, containerPort: 8080, servicePort: 80}]
%s
`, name, namespace, name, name, replicas, strings.Join(extra, "\n"))
	apps, err := spec.Load(name+".yaml", []byte(y))
	if err != nil {
		return nil, err
	}
	return apps[0], nil
}

// Create renders the apps and creates every object (several at a time).
func Create(ctx context.Context, srv *kubetest.Server, apps ...*spec.BlueGreenApp) error {
	objs := render.Render(apps)
	work := make(chan render.Object)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := create(ctx, srv, o); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

func create(ctx context.Context, srv *kubetest.Server, o render.Object) error {
	m, err := render.Manifest(o)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	gvk := u.GroupVersionKind()
	mapping, err := srv.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	_, err = srv.Dynamic().Resource(mapping.Resource).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// SetStatus writes a Deployment's status subresource as the deployment
// controller would; edit changes the status read from the server.
func SetStatus(ctx context.Context, dyn dynamic.Interface, namespace, name string, edit func(d *appsv1.Deployment)) error {
	ri := dyn.Resource(cluster.Deployments).Namespace(namespace)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
		return err
	}
	edit(d)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		return err
	}
	_, err = ri.UpdateStatus(ctx, &unstructured.Unstructured{Object: m}, metav1.UpdateOptions{})
	return err
}

// RolledOut is the status of a Deployment whose rollout is complete.
func RolledOut(d *appsv1.Deployment) {
	n := ptr.Deref(d.Spec.Replicas, 1)
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", d.Name+"-5d8c7f9b6")},
		},
	}
}

// Endpoint is one pod behind a Service.
type Endpoint struct {
	Pod   string
	IP    string
	Ready bool
}

// CreateEndpoints creates, for each endpoint, a Pod of the app's color
// whose status carries the IP (as the kubelet would report it), and one
// EndpointSlice for the Service with the labels the EndpointSlice
// controller copies from the Service. port is the target port number.
func CreateEndpoints(ctx context.Context, dyn dynamic.Interface, app *spec.BlueGreenApp, service string, c spec.Color, port int32, eps ...Endpoint) error {
	ns := app.Metadata.Namespace
	slice := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: service + "-" + string(c), Namespace: ns},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	slice.Labels = map[string]string{
		discoveryv1.LabelServiceName: service,
		discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
		render.LabelName:             app.Metadata.Name,
		render.LabelManagedBy:        render.ManagedBy,
	}
	for _, ep := range eps {
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: ep.Pod, Namespace: ns, Labels: render.SelectorLabels(app, c)},
			Spec: corev1.PodSpec{
				ServiceAccountName:           app.Metadata.Name,
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "app", Image: app.Spec.Blue.Image}},
			},
		}
		if err := createTyped(ctx, dyn, Pods, ns, pod); err != nil {
			return err
		}
		if err := setPodIP(ctx, dyn, ns, ep.Pod, ep.IP); err != nil {
			return err
		}
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ep.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ep.Ready)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: ep.Pod},
		})
	}
	return createTyped(ctx, dyn, EndpointSlices, ns, slice)
}

func createTyped(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string, obj any) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create %s %s/%s: %w", gvr.Resource, ns, u.GetName(), err)
	}
	return nil
}

func setPodIP(ctx context.Context, dyn dynamic.Interface, ns, name, ip string) error {
	ri := dyn.Resource(Pods).Namespace(ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	status := map[string]any{
		"phase":  "Running",
		"podIP":  ip,
		"podIPs": []any{map[string]any{"ip": ip}},
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "lastTransitionTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z"),
		}},
	}
	u.Object["status"] = status
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set IP of pod %s/%s: %w", ns, name, err)
	}
	return nil
}

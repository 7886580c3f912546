package status

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"strings"
	"testing"
)

// TestCompareWithGit: drift in the live color, an image and a replica
// count is listed; an image Git does not say (a Deployment with several
// containers and no --container) is "not compared", never "in sync".
func TestCompareWithGit(t *testing.T) {
	app := &App{Live: "blue", Colors: []Color{
		{Color: "blue", Found: true, Desired: 3, Images: []string{"web:1"}},
		{Color: "green", Found: true, Desired: 3, Images: []string{"web:1", "sidecar:1"}},
	}}
	app.CompareWith(Wanted{Live: "green", Images: map[string]string{"blue": "web:2"}, Replicas: map[string]int32{"blue": 3, "green": 1}})
	got := strings.Join(app.Git.Drift, "\n")
	for _, want := range []string{"Git routes traffic to green, the cluster to blue", "blue: Git wants image web:2, the cluster runs web:1", "green: Git wants 1 replicas, the cluster 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("drift lacks %q:\n%s", want, got)
		}
	}
	if len(app.Git.Unchecked) != 1 || !strings.Contains(app.Git.Unchecked[0], "green: the image") {
		t.Errorf("unchecked: %q", app.Git.Unchecked)
	}
	var b strings.Builder
	if err := WriteApp(&b, app); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "in sync") || !strings.Contains(b.String(), "not compared: green: the image") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestEndpointsOnceEachInAddressOrder: an address in two EndpointSlices is
// counted once, addresses sort as addresses, and IPv6 prints bracketed.
func TestEndpointsOnceEachInAddressOrder(t *testing.T) {
	port := int32(8080)
	ready := true
	slice := func(addrs ...string) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: &port}}}
		for _, a := range addrs {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
		}
		return s
	}
	svc := service("web", "active", nil, "color", []*discoveryv1.EndpointSlice{slice("10.0.0.10", "10.0.0.2"), slice("10.0.0.2", "fd00::1")})
	if got := endpoints(svc.Endpoints); got != "10.0.0.2:8080, 10.0.0.10:8080, [fd00::1]:8080" {
		t.Errorf("endpoints %q", got)
	}
}

// TestWarnsWhenBothServicesSelectOneColor: the preview Service selecting
// the live color is worth a line in the table.
func TestWarnsWhenBothServicesSelectOneColor(t *testing.T) {
	app := &App{Name: "web", Live: "blue", Services: []Service{
		{Name: "web", Role: "active", Found: true, Selects: "blue"},
		{Name: "web-preview", Role: "preview", Found: true, Selects: "blue"},
	}}
	var b strings.Builder
	if err := WriteApp(&b, app); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "warning: the active and preview Services both select blue") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestAutoscaledColorIsNoReplicaDrift: a color that its HPA has grown
// above the floor Git holds is in sync; without the HPA the same counts
// are drift.
func TestAutoscaledColorIsNoReplicaDrift(t *testing.T) {
	hpa := &Autoscaler{Name: "web-blue", Current: 5, Desired: 5, Min: 3, Max: 12}
	app := &App{Live: "blue", Colors: []Color{{Color: "blue", Found: true, Desired: 5, Images: []string{"web:1"}, Autoscaler: hpa}}}
	app.CompareWith(Wanted{Live: "blue", Images: map[string]string{"blue": "web:1"}, Replicas: map[string]int32{"blue": 3}})
	if len(app.Git.Drift) != 0 {
		t.Errorf("drift with the HPA at 5 and Git's floor 3: %q", app.Git.Drift)
	}
	app.Colors[0].Autoscaler = nil
	app.CompareWith(Wanted{Live: "blue", Images: map[string]string{"blue": "web:1"}, Replicas: map[string]int32{"blue": 3}})
	if len(app.Git.Drift) != 1 || !strings.Contains(app.Git.Drift[0], "blue: Git wants 3 replicas, the cluster 5") {
		t.Errorf("drift without an HPA: %q", app.Git.Drift)
	}
}

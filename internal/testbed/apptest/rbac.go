package apptest

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

var (
	serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	roles           = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	roleBindings    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

// ServiceAccountConfig creates the ServiceAccount account in namespace,
// binds it to the Role in the file rolePath (created in namespace; empty
// binds nothing), asks the TokenRequest API for a token, and returns a
// client configuration that authenticates with that token — and so has
// exactly the Role's permissions.
func ServiceAccountConfig(ctx context.Context, srv *kubetest.Server, namespace, account, rolePath string) (*rest.Config, error) {
	dyn := srv.Dynamic()
	sa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": account, "namespace": namespace},
	}}
	if _, err := dyn.Resource(serviceAccounts).Namespace(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create service account: %w", err)
	}
	if rolePath != "" {
		if err := BindRole(ctx, srv, namespace, namespace, account, rolePath); err != nil {
			return nil, err
		}
	}
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"spec": map[string]any{"expirationSeconds": int64(3600)},
	}}
	resp, err := dyn.Resource(serviceAccounts).Namespace(namespace).Create(ctx, withName(req, account), metav1.CreateOptions{}, "token")
	if err != nil {
		return nil, fmt.Errorf("request a token for %s/%s: %w", namespace, account, err)
	}
	token, _, _ := unstructured.NestedString(resp.Object, "status", "token")
	if token == "" {
		return nil, fmt.Errorf("token request for %s/%s returned no token", namespace, account)
	}
	cfg := srv.RESTConfig()
	cfg.BearerToken = token
	return cfg, nil
}

func withName(u *unstructured.Unstructured, name string) *unstructured.Unstructured {
	u.SetName(name)
	return u
}

// BindRole creates the Role in the file rolePath in namespace and binds it
// to the ServiceAccount account of saNamespace.
func BindRole(ctx context.Context, srv *kubetest.Server, namespace, saNamespace, account, rolePath string) error {
	dyn := srv.Dynamic()
	data, err := os.ReadFile(rolePath)
	if err != nil {
		return err
	}
	role := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &role.Object); err != nil {
		return fmt.Errorf("%s: %w", rolePath, err)
	}
	role.SetNamespace(namespace)
	if _, err := dyn.Resource(roles).Namespace(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role from %s: %w", rolePath, err)
	}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": saNamespace + "-" + account, "namespace": namespace},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.GetName()},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": account, "namespace": saNamespace}},
	}}
	if _, err := dyn.Resource(roleBindings).Namespace(namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role binding: %w", err)
	}
	return nil
}

package spec_test

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

// migratingApp is a valid spec whose migrations block the tests below
// append; its line 9 is the first line appended.
const migratingApp = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: orders}
spec:
  blue: {image: orders:1}
  green: {image: orders:2}
  ports: [{name: http, containerPort: 8080}]
  active: blue
`

func TestMigrationsDefaults(t *testing.T) {
	apps, err := spec.Load("app.yaml", []byte(migratingApp+"  migrations:\n    expand: {command: [migrate]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &apps[0].Spec
	e := s.Migrations.Expand
	if !s.Expands() || *e.BackoffLimit != spec.DefaultMigrationBackoffLimit || *e.ActiveDeadlineSeconds != spec.DefaultMigrationDeadlineSeconds {
		t.Errorf("expand %+v: want backoffLimit %d and activeDeadlineSeconds %d", e, spec.DefaultMigrationBackoffLimit, spec.DefaultMigrationDeadlineSeconds)
	}
}

func TestMigrationsValidation(t *testing.T) {
	for name, tc := range map[string]struct{ block, want string }{
		"empty block":        {"  migrations: {}", "app.yaml:9: spec.migrations: set expand (and later contract), or drop the block"},
		"contract alone":     {"  migrations:\n    contract: {command: [drop]}", "app.yaml:10: spec.migrations.contract: needs spec.migrations.expand"},
		"negative backoff":   {"  migrations:\n    expand:\n      args: [up]\n      backoffLimit: -1", "app.yaml:12: spec.migrations.expand.backoffLimit: must not be negative, got -1"},
		"zero deadline":      {"  migrations:\n    expand:\n      activeDeadlineSeconds: 0", "app.yaml:11: spec.migrations.expand.activeDeadlineSeconds: must be at least 1, got 0"},
		"bad image":          {"  migrations:\n    expand: {image: Orders:1}", `app.yaml:10: spec.migrations.expand.image: "Orders:1" is not a valid image reference`},
		"env without name":   {"  migrations:\n    expand:\n      env:\n        - {value: x}", "app.yaml:12: spec.migrations.expand.env[0].name: required"},
		"envFrom empty":      {"  migrations:\n    expand:\n      envFrom:\n        - {prefix: DB_}", "app.yaml:12: spec.migrations.expand.envFrom[0]: configMapRef or secretRef is required"},
		"request over limit": {"  migrations:\n    expand:\n      resources: {requests: {cpu: \"2\"}, limits: {cpu: \"1\"}}", "app.yaml:11: spec.migrations.expand.resources.requests.cpu: request 2 is more than the limit 1"},
		"unknown field":      {"  migrations:\n    expand:\n      comand: [migrate]", "app.yaml:11: spec.migrations.expand.comand: unknown field"},
		"pod field":          {"  migrations:\n    expand:\n      securityContext: {privileged: true}", "app.yaml:11: spec.migrations.expand.securityContext: unknown field"},
		"no command":         {"  migrations:\n    expand: {backoffLimit: 1}", "app.yaml:10: spec.migrations.expand: set command (or args, or an image of its own)"},
		"contract checked":   {"  migrations:\n    expand: {args: [up]}\n    contract: {args: [down], backoffLimit: -2}", "app.yaml:11: spec.migrations.contract.backoffLimit: must not be negative, got -2"},
		"contracted alone":   {"  migrations:\n    expand: {args: [up]}\n    contracted: {image: orders:2}", "app.yaml:11: spec.migrations.contracted: records a contract, but spec.migrations.contract is not set"},
		"contracted image":   {"  migrations:\n    expand: {args: [up]}\n    contract: {args: [down]}\n    contracted:\n      image: Orders:2", "app.yaml:13: spec.migrations.contracted.image: \"Orders:2\" is not a valid image reference"},
		"contracted job":     {"  migrations:\n    expand: {args: [up]}\n    contract: {args: [down]}\n    contracted:\n      image: orders:2\n      job: other-contract-0123456789", "app.yaml:14: spec.migrations.contracted.job: \"other-contract-0123456789\" is not a contract Job of orders"},
		"retired image":      {"  migrations:\n    expand: {args: [up]}\n    contract: {args: [down]}\n    contracted:\n      image: orders:2\n      retired: [orders:1, \"\"]", "app.yaml:14: spec.migrations.contracted.retired[1]: \"\" is not a valid image reference"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := spec.Load("app.yaml", []byte(migratingApp+tc.block+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMigrationsNameLength(t *testing.T) {
	long := strings.Repeat("a", 44)
	src := strings.Replace(migratingApp, "name: orders", "name: "+long, 1) + "  migrations:\n    expand: {args: [up]}\n"
	_, err := spec.Load("app.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "app.yaml:3: metadata.name: \""+long+"\" is 44 characters; with spec.migrations at most 43") {
		t.Fatalf("got %v", err)
	}
}

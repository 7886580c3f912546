package promote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// SpecFile is the spec of a bgrender-managed app folder.
const SpecFile = "bgrender.yaml"

// State is what an action reads from an app folder.
type State struct {
	App    string
	Active spec.Color
	// Previous is the color in bgrender.io/previous-color (the idle color
	// when the annotation is missing).
	Previous spec.Color
	Images   map[spec.Color]string
	Replicas map[spec.Color]int32
	// Namespace is the app's namespace as the folder names it (empty when
	// it names none) and NamespaceFrom says where, for messages: Read
	// fills them (see layout.namespace).
	Namespace     string
	NamespaceFrom string
	// NamespaceErr says why the folder names no one namespace (its
	// manifests disagree); Read keeps it rather than failing.
	NamespaceErr error
	// Service and Preview name the active and preview Services (Preview
	// is empty when a plain folder has none), and ColorLabel the selector
	// key that carries the color.
	Service, Preview string
	ColorLabel       string
	// Weight is the idle color's share of traffic (spec.traffic.weight);
	// nil when the app does not split traffic. Canary says it is split by
	// an NGINX canary Ingress <app>-canary rather than an HTTPRoute <app>.
	Weight *int32
	Canary bool
	// CanaryIngress and CanaryService name the canary Ingress and the
	// Service it sends the weight to, when Canary is set.
	CanaryIngress, CanaryService string
	// RouteName and RouteServices name the HTTPRoute that splits the
	// traffic (Gateway API mode) and its backend Service of each color.
	RouteName     string
	RouteServices map[spec.Color]string
	// Shifted is the color the weight goes to: the idle color, except
	// during a hand-over (see Handover).
	Shifted spec.Color
	// Handover says that a stepped promotion flipped the Services while
	// the NGINX canary carried all requests to the new color, and the
	// canary still sends its weight there (spec.traffic.canaryColor is the
	// active color); the next commit, weight 0, ends it.
	Handover bool
	// Plain says the folder is plain manifests, not bgrender-managed.
	Plain bool
	// PreviewOnLive: a plain folder whose canary sends, at 0%, to the
	// preview Service while that selects the live color (the last commit
	// of a hand-over is left: the preview Service on to the idle color).
	PreviewOnLive bool
	// CannotHandOver, in the NGINX canary mode, says why promote --steps
	// could not hand over at its last step, found before any commit.
	CannotHandOver string
	// Gates are the gates the folder declares (spec.gates, or a plain
	// folder's spec.GatesFile); nil when none. Only Read fills them in.
	Gates *spec.FolderGates
	// Autoscalers name the HorizontalPodAutoscaler of each color that
	// has one in the folder; a flip then checks capacity in the cluster.
	Autoscalers map[spec.Color]string
	// Floors are what the folder holds each color at (see RaiseFloor).
	Floors map[spec.Color]Floor
	// ExpandJobs name the expand migration Job of each color's image
	// when the folder has spec.migrations.expand; promote's migration
	// gate requires the idle color's to have succeeded.
	ExpandJobs map[spec.Color]string
	// ExpandJob, when the folder has spec.migrations.expand, names the
	// Job that color c would run with image (deploy waits for it).
	ExpandJob func(c spec.Color, image string) string
	// ContractJob, when the folder has spec.migrations.contract, names
	// the contract Job of the live color's image: the one the contract
	// action commits (and waits for).
	ContractJob string
	// Contracted is the last contract (spec.migrations.contracted), nil
	// when none is recorded: no flip goes to an image it retired.
	Contracted *spec.ContractedSpec
}

// String is the fingerprint of the state, compared between two attempts
// of a push to detect a concurrent change.
func (s *State) String() string {
	w := "none"
	if s.Weight != nil {
		w = strconv.Itoa(int(*s.Weight))
	}
	if s.Weight != nil {
		w += " to " + string(s.Shifted)
	}
	return fmt.Sprintf("active=%s blue=%s green=%s replicas=%d/%d weight=%s", s.Active,
		s.Images[spec.Blue], s.Images[spec.Green], s.Replicas[spec.Blue], s.Replicas[spec.Green], w)
}

// layout is an app folder that an action reads and edits.
type layout interface {
	state() *State
	setActive(to spec.Color) error
	setImage(c spec.Color, image string) error
	setIdleReplicas(n int32) error
	// setFloor holds color c at n pods at least (see RaiseFloor).
	setFloor(c spec.Color, n, configured int32) error
	// setWeight sets the idle color's share of traffic; 0 also ends a
	// hand-over.
	setWeight(n int32) error
	// holdCanary keeps the canary on color c (the color being promoted)
	// through the flip that setActive makes: a hand-over.
	holdCanary(c spec.Color) error
	// namespace returns the app's namespace as the folder names it ("" when
	// it names none) and where it is named. Only the gates need it, so
	// only Read asks: a folder whose manifests disagree is still one that
	// rollback can edit.
	namespace() (ns, from string, err error)
	// gates returns the gates the folder declares (nil: none); like
	// namespace, only Read asks.
	gates() (*spec.FolderGates, error)
	// save writes the edits (and, for a managed folder, re-renders it).
	save() error
}

// PlainOptions locate the Service and Deployments of a plain-manifests
// folder; a managed folder ignores them.
type PlainOptions struct {
	// Service is the name of the live Service; empty: the only Service
	// whose selector has a blue or green value.
	Service string
	// PreviewService is the name of the preview Service, which selects
	// the idle color and which every flip flips with the live one; empty:
	// the Service that selects the same pods but for the color, told from
	// the live one by what the folder says (see roles.go).
	PreviewService string
	// File holds the Service (relative to the app folder); empty: search
	// every .yaml and .yml file of the folder.
	File string
	// ColorLabel is the selector key that carries the color; empty: the
	// key whose value is blue or green.
	ColorLabel string
	// Container whose image deploy changes, when a pod has several.
	Container string
}

// openLayout reads the app folder in dir.
func openLayout(dir string, o PlainOptions) (layout, error) {
	data, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if err == nil {
		return openManaged(dir, data)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return openPlain(dir, o)
}

// managed is a bgrender-managed folder.
type managed struct {
	dir  string
	file *yamlFile
	app  *spec.BlueGreenApp
	st   *State
}

func openManaged(dir string, data []byte) (*managed, error) {
	apps, err := spec.Load(SpecFile, data)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	if len(apps) != 1 {
		return nil, exitcode.Invalidf("%s: holds %d apps; an app folder holds exactly one", SpecFile, len(apps))
	}
	f, err := parseYAMLFile(SpecFile, data)
	if err != nil {
		return nil, err
	}
	app := apps[0]
	st := &State{App: app.Metadata.Name, Active: app.Spec.Active, Previous: app.Spec.Idle(),
		Images: map[spec.Color]string{}, Replicas: map[spec.Color]int32{},
		Service: app.Metadata.Name, Preview: app.Metadata.Name + "-preview", ColorLabel: app.Spec.ColorLabel}
	for _, c := range spec.Colors {
		st.Images[c] = app.Spec.ColorSpecOf(c).Image
		st.Replicas[c] = app.Spec.ReplicasOf(c)
		if app.Spec.Autoscaling != nil { // render names each color's autoscaler so
			if st.Autoscalers == nil {
				st.Autoscalers = map[spec.Color]string{}
			}
			st.Autoscalers[c] = app.Metadata.Name + "-" + string(c)
		}
	}
	st.Floors = managedFloors(app)
	if app.Spec.Expands() {
		st.ExpandJob = func(c spec.Color, image string) string {
			with := *app // a shallow copy: only the color's image changes
			with.Spec.ColorSpecOf(c).Image = image
			return render.ExpandJobName(&with, c)
		}
		st.ExpandJobs = map[spec.Color]string{}
		for _, c := range spec.Colors {
			st.ExpandJobs[c] = render.ExpandJobName(app, c)
		}
	}
	if app.Spec.Contracts() {
		st.ContractJob = render.ContractJob(app, st.Active, st.Images[st.Active]).Name
	}
	st.Contracted = app.Spec.ContractedFor()
	if tr := app.Spec.Traffic; tr != nil {
		st.Weight, st.Canary = tr.Weight, tr.NGINX != nil
		st.Shifted = app.Spec.Shifted()
		if tr.Gateway != nil {
			st.RouteName = app.Metadata.Name
			st.RouteServices = map[spec.Color]string{spec.Blue: app.Metadata.Name + "-blue", spec.Green: app.Metadata.Name + "-green"}
		}
		if st.Canary {
			st.CanaryIngress, st.CanaryService = render.CanaryName(app), app.Metadata.Name+"-"+string(st.Shifted)
			st.Handover = st.Shifted == st.Active
			probe, err := f.y.Clone()
			if err == nil {
				_, err = probe.SetString(0, []string{"spec", "traffic", "canaryColor"}, string(st.Active.Other()))
			}
			if err != nil {
				st.CannotHandOver = fmt.Sprintf("%s: spec.traffic: %v (write spec.traffic in block style, one key per line, for the hand-over's canaryColor)", SpecFile, err)
			}
		}
	}
	return &managed{dir: dir, file: f, app: app, st: st}, nil
}

func (m *managed) state() *State { return m.st }

func (m *managed) namespace() (string, string, error) {
	return m.app.Metadata.Namespace, SpecFile + " metadata.namespace", nil
}

func (m *managed) gates() (*spec.FolderGates, error) { return spec.GatesOf(m.app), nil }

func (m *managed) setActive(to spec.Color) error {
	_, err := m.file.y.SetString(0, []string{"spec", "active"}, string(to))
	return m.file.wrap(err)
}

func (m *managed) setImage(c spec.Color, image string) error {
	_, err := m.file.y.SetString(0, []string{"spec", string(c), "image"}, image)
	return m.file.wrap(err)
}

func (m *managed) setIdleReplicas(n int32) error {
	if s := &m.app.Spec; s.Autoscaled() {
		return m.setIdleMinReplicas(n)
	}
	_, err := m.file.y.SetInt(0, []string{"spec", "idleReplicas"}, int64(n))
	return m.file.wrap(err)
}

// setIdleMinReplicas scales an autoscaled idle color: its floor is its
// HPA's minReplicas (spec.autoscaling.idleMinReplicas), since its
// Deployment has no replica count of its own.
func (m *managed) setIdleMinReplicas(n int32) error {
	s := &m.app.Spec
	switch most := s.MaxReplicasOf(s.Idle()); {
	case n < 1:
		return exitcode.Invalidf("%s: spec.autoscaling: the idle color's HPA cannot scale to %d (minReplicas 0 needs the HPAScaleToZero feature gate); scale-idle sets autoscaling.idleMinReplicas, 1 or more", SpecFile, n)
	case n > most:
		return exitcode.Invalidf("%s: spec.autoscaling: %d is more than the idle color's maxReplicas (%d)", SpecFile, n, most)
	}
	_, err := m.file.y.SetInt(0, []string{"spec", "autoscaling", "idleMinReplicas"}, int64(n))
	if errors.Is(err, yamledit.ErrCannotInsert) {
		return exitcode.Invalidf("%s: spec.autoscaling: %v (write spec.autoscaling in block style, one key per line)", SpecFile, err)
	}
	return m.file.wrap(err)
}

// setContracted records a contract for image, by the Job job, that
// retired the images retired (newest first).
func (m *managed) setContracted(image, job string, retired []string) error {
	path := []string{"spec", "migrations", "contracted"}
	if err := m.file.y.SetFlowList(0, append(path, "retired"), retired); err != nil {
		return m.contractedErr(err)
	}
	if _, err := m.file.y.SetString(0, append(path, "job"), job); err != nil {
		return m.contractedErr(err)
	}
	_, err := m.file.y.SetString(0, append(path, "image"), image)
	return m.contractedErr(err)
}

func (m *managed) contractedErr(err error) error {
	if errors.Is(err, yamledit.ErrCannotInsert) {
		return exitcode.Invalidf("%s: spec.migrations: %v (write spec.migrations in block style, one key per line)", SpecFile, err)
	}
	return m.file.wrap(err)
}

func (m *managed) setWeight(n int32) error {
	tr := m.app.Spec.Traffic
	if tr == nil {
		return exitcode.Invalidf("%s: the app splits no traffic: add spec.traffic (a gateway with its parentRefs) to shift it", SpecFile)
	}
	if _, err := m.file.y.SetInt(0, []string{"spec", "traffic", "weight"}, int64(n)); err != nil {
		return m.file.wrap(err)
	}
	if n == 0 && tr.CanaryColor != "" {
		// The canary returns to the idle color at weight 0: one object, so
		// no apply order sends a request elsewhere.
		if _, err := m.file.y.Delete(0, []string{"spec", "traffic", "canaryColor"}); err != nil {
			return m.file.wrap(err)
		}
	}
	m.file.changed = true
	return nil
}

func (m *managed) holdCanary(c spec.Color) error {
	if m.app.Spec.Traffic == nil || m.app.Spec.Traffic.NGINX == nil {
		return exitcode.Invalidf("%s: only the NGINX canary mode hands over", SpecFile)
	}
	_, err := m.file.y.SetString(0, []string{"spec", "traffic", "canaryColor"}, string(c))
	if errors.Is(err, yamledit.ErrCannotInsert) {
		return exitcode.Invalidf("%s: spec.traffic: %v (write spec.traffic in block style, one key per line)", SpecFile, err)
	}
	return m.file.wrap(err)
}

func (m *managed) save() error {
	data := m.file.y.Bytes()
	apps, err := spec.Load(SpecFile, data)
	if err != nil {
		return fmt.Errorf("the edited %s is invalid: %w", SpecFile, err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, SpecFile), data, 0o644); err != nil {
		return err
	}
	if err := render.WriteDir(m.dir, render.Render(apps)); err != nil {
		if errors.Is(err, render.ErrForeignKustomization) {
			return exitcode.Invalidf("kustomization.yaml: bgrender did not write it (its first line is not bgrender's header), and in a folder with %s bgrender renders the manifests and their kustomization.yaml; list your own files in bgrender's kustomization.yaml (they are kept), or move yours one folder up", SpecFile)
		}
		return fmt.Errorf("render: %w", err)
	}
	return nil
}

// colorOf parses a color name.
// Labels are case-sensitive: "Blue" is not a color, since writing "blue"
// in its place would select other pods.
func colorOf(s string) (spec.Color, bool) {
	c := spec.Color(s)
	return c, c.Valid()
}

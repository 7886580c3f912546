package status

import (
	"context"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ReplicaSets is the resource of the Deployments' ReplicaSets.
var ReplicaSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}

// revisionAnnotation is the Deployment controller's revision of a
// ReplicaSet: the current one has the highest.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// ReplicaSet is a color's current ReplicaSet: the one its Deployment's
// pods now come from, and since when.
type ReplicaSet struct {
	Name     string    `json:"name"`
	Revision int64     `json:"revision"`
	Created  time.Time `json:"created"`
}

// ReadReplicaSets gives each color of app its Deployment's current
// ReplicaSet (the owned one with the highest revision), which tells how
// long the color has run its pod template. One list request, by the color
// label that every color's pods (and so their ReplicaSets) carry; an error
// leaves the colors as they were (a role may not list ReplicaSets).
func (r *Reader) ReadReplicaSets(ctx context.Context, app *App) error {
	var l appsv1.ReplicaSetList
	if err := r.list(ctx, ReplicaSets, labelQuery(app.ColorLabel+" in (blue,green)"), &l); err != nil {
		return err
	}
	for i := range app.Colors {
		c := &app.Colors[i]
		if c.Found {
			c.ReplicaSet = current(l.Items, c.Deployment)
		}
	}
	return nil
}

// current is the ReplicaSet of Deployment deployment with the highest
// revision, or nil.
func current(rss []appsv1.ReplicaSet, deployment string) *ReplicaSet {
	var out *ReplicaSet
	for _, rs := range rss {
		if !ownedBy(rs, deployment) {
			continue
		}
		rev, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		if out == nil || rev > out.Revision {
			out = &ReplicaSet{Name: rs.Name, Revision: rev, Created: rs.CreationTimestamp.UTC()}
		}
	}
	return out
}

func ownedBy(rs appsv1.ReplicaSet, deployment string) bool {
	for _, o := range rs.OwnerReferences {
		if o.Kind == "Deployment" && o.Name == deployment && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

package release

import (
	"context"

	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/status"
)

// AppStatus reads an app from the cluster and, when wanted (the app folder
// in Git, read from t) is given, records its drift from Git.
func AppStatus(ctx context.Context, r *status.Reader, name string, t *promote.Target, wanted *promote.State) (*status.App, error) {
	app, err := r.GetWithPreview(ctx, name, previewOf(wanted))
	if err != nil || wanted == nil {
		return app, err
	}
	if wanted.Plain && app.Traffic == nil {
		// A plain folder's canary or route carries no bgrender label: read
		// it by the name Git gives.
		switch {
		case wanted.Canary:
			app.Traffic, err = r.PlainCanary(ctx, wanted.CanaryIngress, wanted.ColorLabel)
		case wanted.RouteName != "":
			app.Traffic, err = r.PlainRoute(ctx, wanted.RouteName, wanted.RouteServices)
		}
		if err != nil {
			return nil, err
		}
	}
	w := status.Wanted{Repo: t.Repo.URL, Path: t.Path, Branch: t.Branch, Live: string(wanted.Active),
		Images: map[string]string{}, Replicas: map[string]int32{}}
	for c, im := range wanted.Images {
		w.Images[string(c)] = im
	}
	for c, n := range wanted.Replicas {
		w.Replicas[string(c)] = n
	}
	w.Weight = wanted.Weight
	if wanted.Weight != nil {
		w.Shifted, w.Handover = string(wanted.Shifted), wanted.Handover
	}
	app.CompareWith(w)
	return app, nil
}

// previewOf is the preview Service that a plain folder in Git names (found
// by its role), "" for a managed folder or none read: <app>-preview.
func previewOf(st *promote.State) string {
	if st == nil || !st.Plain {
		return ""
	}
	return st.Preview
}

package main

import _ "embed" // the long help of the commands, as text files

// The long help and the examples of the commands live in help/, as text
// that reads (and diffs) like the prose it is.
var (
	//go:embed help/check.txt
	checkLong string
	//go:embed help/guard.txt
	guardLong string
	//go:embed help/helmplugin.txt
	helmpluginLong string
	//go:embed help/import.txt
	importLong string
	//go:embed help/postrender.txt
	postrenderLong string
	//go:embed help/render.txt
	renderLong string
	//go:embed help/status.txt
	statusLong string
	//go:embed help/validate.txt
	validateLong string
	//go:embed help/promote-gates.txt
	promoteGatesLong string
	//go:embed help/deploy-wait.txt
	deployWaitLong string
	//go:embed help/release.txt
	releaseLong string
	//go:embed help/deploy-chart.txt
	deployChartLong string
	//go:embed help/gitops.txt
	gitopsLong string
	//go:embed help/group.txt
	groupLong string
	//go:embed help/fleet-flip.txt
	fleetFlipLong string
	//go:embed help/contract.txt
	contractLong string
	//go:embed help/contract.examples.txt
	contractExamples string
	//go:embed help/check.examples.txt
	checkExamples string
	//go:embed help/completion.examples.txt
	completionExamples string
	//go:embed help/deploy.examples.txt
	deployExamples string
	//go:embed help/guard.examples.txt
	guardExamples string
	//go:embed help/helm-plugin.examples.txt
	helmPluginExamples string
	//go:embed help/import.examples.txt
	importExamples string
	//go:embed help/postrender.examples.txt
	postrenderExamples string
	//go:embed help/promote.examples.txt
	promoteExamples string
	//go:embed help/release.examples.txt
	releaseExamples string
	//go:embed help/render.examples.txt
	renderExamples string
	//go:embed help/schema.examples.txt
	schemaExamples string
	//go:embed help/status.examples.txt
	statusExamples string
	//go:embed help/validate.examples.txt
	validateExamples string
)

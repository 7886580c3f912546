package main

import _ "embed" // the long help of the commands, as text files

// The long help of the commands lives in help/, as text that reads (and
// diffs) like the prose it is; each command's examples stay beside its
// flags.
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
	//go:embed help/gitops.txt
	gitopsLong string
)

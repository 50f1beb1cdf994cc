package slackfake

import "encoding/json"

// ValidateMessage checks a message's blocks as chat.postMessage would, and returns Slack's error
// messages (none when Slack would accept them). Renderers and fuzz tests use it to check output
// against the same rules as the Web API, without a round trip.
func ValidateMessage(blocks json.RawMessage) []string {
	return validateBlocks(blocks, surfaceMessage, "/blocks")
}

// ValidateModal checks a modal view as views.open would; ValidateHome a Home tab as views.publish
// would. Each returns Slack's error messages, or nil.
func ValidateModal(view json.RawMessage) []string {
	return viewErrors(validateView(view, surfaceModal))
}

// ValidateHome: see ValidateModal.
func ValidateHome(view json.RawMessage) []string { return viewErrors(validateView(view, surfaceHome)) }

func viewErrors(e *apiError) []string {
	if e == nil {
		return nil
	}
	if len(e.messages) > 0 {
		return e.messages
	}
	return []string{e.code}
}

// Package bot is workbot's Slack adapter: the Socket Mode loop, routing, handlers, Block Kit rendering and
// the scheduler glue. Business rules live in domain; this package decodes, calls the domain, acks, renders
// and calls Slack.
package bot

// SlashCommand is the one slash command the app registers; manifest.yaml must declare the same name
// (a test checks it).
const SlashCommand = "/work"

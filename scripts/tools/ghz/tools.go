//go:build tools

package tools

import _ "github.com/bojand/ghz/cmd/ghz"

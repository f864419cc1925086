// Package lib is a fixture: a package that is not main.
package lib

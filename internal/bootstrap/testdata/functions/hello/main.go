// Command hello is a fixture: a main package for bootstrap.Package to find.
package main

func main() {}

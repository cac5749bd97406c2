// Command gen writes chunks_amd64.s, the AVX-512 kernels of package
// b3simd: BLAKE3's compression function run on sixteen independent
// inputs at once, one per 32-bit lane of a ZMM register.
//
// Register plan (all 32 ZMM registers, no spills): Z0–Z15 hold the
// compression state v0–v15 (Z0–Z7 carry the chaining value from one block
// to the next), Z16–Z31 the message words m0–m15, each word of the sixteen
// inputs side by side. Rotations are VPRORD, which needs no temporary.
// The message permutation between rounds is a renaming done here, so no
// register moves at run time.
//
// The chunk kernel reads its sixteen inputs as rows (one 64-byte block of
// each chunk per step) and transposes them into message words in
// registers: dword and qword unpacks within each group of four rows, then
// two VSHUFI32X4 passes across the groups. While it transposes, Z8–Z15
// (state not yet initialised for the block) are its scratch registers.
//
// Run it with `go generate ./internal/b3simd`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func emit(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }

func z(i int) string { return fmt.Sprintf("Z%d", i) }

// msgPerm is BLAKE3's message permutation: after each round, word i is
// the previous round's word msgPerm[i].
var msgPerm = [16]int{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}

// rounds emits the seven rounds over state Z0–Z15 and message Z16–Z31,
// then folds the state into the new chaining value in Z0–Z7.
func rounds() {
	m := [16]int{}
	for i := range m {
		m[i] = 16 + i
	}
	for r := 0; r < 7; r++ {
		// Columns, then diagonals; the four G functions of each half
		// step together so their instructions interleave.
		gs([4][4]int{{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15}}, m, 0)
		gs([4][4]int{{0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14}}, m, 8)
		var next [16]int
		for i := range next {
			next[i] = m[msgPerm[i]]
		}
		m = next
	}
	for i := 0; i < 8; i++ {
		emit("VPXORD %s, %s, %s", z(i+8), z(i), z(i))
	}
}

// gs emits four G functions; quarter q mixes the words in cols[q] with
// message words m[off+2q] and m[off+2q+1].
func gs(cols [4][4]int, m [16]int, off int) {
	half := func(mi int, r1, r2 int) {
		for q, c := range cols {
			emit("VPADDD %s, %s, %s", z(c[1]), z(c[0]), z(c[0]))
			emit("VPADDD %s, %s, %s", z(m[off+2*q+mi]), z(c[0]), z(c[0]))
		}
		for _, c := range cols {
			emit("VPXORD %s, %s, %s", z(c[0]), z(c[3]), z(c[3]))
			emit("VPRORD $%d, %s, %s", r1, z(c[3]), z(c[3]))
		}
		for _, c := range cols {
			emit("VPADDD %s, %s, %s", z(c[3]), z(c[2]), z(c[2]))
		}
		for _, c := range cols {
			emit("VPXORD %s, %s, %s", z(c[2]), z(c[1]), z(c[1]))
			emit("VPRORD $%d, %s, %s", r2, z(c[1]), z(c[1]))
		}
	}
	half(0, 16, 12)
	half(1, 8, 7)
}

// rowAddr is the address of row r (0–15) of the current block: four base
// registers, one per group of four rows, plus 0, 1, 2 or 3 strides.
func rowAddr(r int) string {
	base := []string{"R8", "R9", "R10", "R11"}[r/4]
	switch r % 4 {
	case 0:
		return "(" + base + ")"
	case 1:
		return "(" + base + ")(DX*1)"
	case 2:
		return "(" + base + ")(DX*2)"
	}
	return "(" + base + ")(BX*1)"
}

// transpose loads the current block of the sixteen rows and leaves
// message word j of every row in Z16+j.
func transpose() {
	for g := 0; g < 4; g++ {
		// Dword unpacks of rows (4g, 4g+1) and (4g+2, 4g+3) into Z8–Z11.
		for p := 0; p < 2; p++ {
			a, b := 4*g+2*p, 4*g+2*p+1
			emit("VMOVDQU32 %s, Z12", rowAddr(a))
			emit("VPUNPCKLDQ %s, Z12, %s", rowAddr(b), z(8+2*p))
			emit("VPUNPCKHDQ %s, Z12, %s", rowAddr(b), z(9+2*p))
		}
		// Qword unpacks: U(g,k) holds words k, k+4, k+8, k+12 of the
		// group's four rows, one word per 128-bit lane, in Z16+4g+k.
		u := 16 + 4*g
		emit("VPUNPCKLQDQ Z10, Z8, %s", z(u+0))
		emit("VPUNPCKHQDQ Z10, Z8, %s", z(u+1))
		emit("VPUNPCKLQDQ Z11, Z9, %s", z(u+2))
		emit("VPUNPCKHQDQ Z11, Z9, %s", z(u+3))
	}
	for k := 0; k < 4; k++ {
		a, b, c, d := z(16+k), z(20+k), z(24+k), z(28+k)
		emit("VSHUFI32X4 $0x44, %s, %s, Z8", b, a)
		emit("VSHUFI32X4 $0xEE, %s, %s, Z9", b, a)
		emit("VSHUFI32X4 $0x44, %s, %s, Z10", d, c)
		emit("VSHUFI32X4 $0xEE, %s, %s, Z11", d, c)
		// Word k+4m of all sixteen rows, into Z16+k+4m.
		emit("VSHUFI32X4 $0x88, Z10, Z8, %s", a)
		emit("VSHUFI32X4 $0xDD, Z10, Z8, %s", b)
		emit("VSHUFI32X4 $0x88, Z11, Z9, %s", c)
		emit("VSHUFI32X4 $0xDD, Z11, Z9, %s", d)
	}
}

// ivState sets v8–v11 to the IV and v14 to the block length, 64.
func ivState() {
	for i := 0; i < 4; i++ {
		emit("VPBROADCASTD iv<>+%d(SB), %s", 4*i, z(8+i))
	}
	emit("VPBROADCASTD blockLen<>(SB), Z14")
}

func chunks() {
	fmt.Fprintln(&out, "// func chunks16(out *[8][16]uint32, in *byte, p *params)")
	fmt.Fprintln(&out, "TEXT ·chunks16(SB), NOSPLIT, $0-24")
	emit("MOVQ out+0(FP), AX")
	emit("MOVQ in+8(FP), R8")
	emit("MOVQ p+16(FP), DI")
	for i := 0; i < 8; i++ {
		emit("VPBROADCASTD %d(DI), %s", offKey+4*i, z(i))
	}
	emit("MOVQ %d(DI), DX", offStride)
	emit("LEAQ (DX)(DX*2), BX")
	emit("LEAQ (R8)(DX*4), R9")
	emit("LEAQ (R8)(DX*8), R10")
	emit("LEAQ (R9)(DX*8), R11")
	emit("LEAQ %d(DI), R12", offFlags)
	emit("MOVQ $16, CX")
	fmt.Fprintln(&out, "block:")
	transpose()
	ivState()
	emit("VMOVDQU32 %d(DI), Z12", offCtrLo)
	emit("VMOVDQU32 %d(DI), Z13", offCtrHi)
	emit("VPBROADCASTD (R12), Z15")
	rounds()
	for _, r := range []string{"R8", "R9", "R10", "R11"} {
		emit("ADDQ $64, %s", r)
	}
	emit("ADDQ $4, R12")
	emit("DECQ CX")
	emit("JNZ block")
	for i := 0; i < 8; i++ {
		emit("VMOVDQU32 %s, %d(AX)", z(i), 64*i)
	}
	emit("VZEROUPPER")
	emit("RET")
	fmt.Fprintln(&out)
}

func parents() {
	fmt.Fprintln(&out, "// func parents16(out, left, right *[8][16]uint32, key *[8]uint32, flags uint32)")
	fmt.Fprintln(&out, "TEXT ·parents16(SB), NOSPLIT, $0-36")
	emit("MOVQ out+0(FP), AX")
	emit("MOVQ left+8(FP), SI")
	emit("MOVQ right+16(FP), DX")
	emit("MOVQ key+24(FP), DI")
	for j := 0; j < 8; j++ {
		emit("VMOVDQU32 %d(SI), %s", 64*j, z(16+j))
		emit("VMOVDQU32 %d(DX), %s", 64*j, z(24+j))
	}
	for i := 0; i < 8; i++ {
		emit("VPBROADCASTD %d(DI), %s", 4*i, z(i))
	}
	ivState()
	emit("VPXORD Z12, Z12, Z12")
	emit("VPXORD Z13, Z13, Z13")
	emit("MOVL flags+32(FP), R9")
	emit("VPBROADCASTD R9, Z15")
	rounds()
	for i := 0; i < 8; i++ {
		emit("VMOVDQU32 %s, %d(AX)", z(i), 64*i)
	}
	emit("VZEROUPPER")
	emit("RET")
}

// Offsets of the fields of params (b3simd.go).
const (
	offCtrLo  = 0
	offCtrHi  = 64
	offFlags  = 128
	offKey    = 192
	offStride = 224
)

func main() {
	path := flag.String("out", "chunks_amd64.s", "output file")
	flag.Parse()
	fmt.Fprintln(&out, "// Code generated by gen/main.go; DO NOT EDIT.")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, "//go:build amd64 && !purego")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, "#include \"textflag.h\"")
	fmt.Fprintln(&out)
	iv := []uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A}
	for i, w := range iv {
		fmt.Fprintf(&out, "DATA iv<>+%d(SB)/4, $0x%08x\n", 4*i, w)
	}
	fmt.Fprintln(&out, "GLOBL iv<>(SB), RODATA|NOPTR, $16")
	fmt.Fprintln(&out, "DATA blockLen<>+0(SB)/4, $64")
	fmt.Fprintln(&out, "GLOBL blockLen<>(SB), RODATA|NOPTR, $4")
	fmt.Fprintln(&out)
	chunks()
	parents()
	if err := os.WriteFile(*path, out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
